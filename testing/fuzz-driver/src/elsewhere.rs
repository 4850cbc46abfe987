//! The helper thread of the `free_elsewhere` operation: it frees blocks of
//! the global heap that the driver's thread allocated, so that `DLMalloc`
//! sees frees from a thread that does not own the blocks' arena. Those
//! blocks join the helper's cache and reach their arena's remote list when
//! they leave it (half of a full class, the whole cache after a long run
//! of frees, the thread's exit) or bypass it (large blocks, a full cache);
//! the owner frees them on its next cache miss, or a flush does.
//!
//! One helper per run, started on the first request and joined when the
//! run ends (its exit gives its cache back). Each request is acknowledged
//! once done, so the driver never runs beside it: a run stays a
//! deterministic sequence of operations.

use core::alloc::{GlobalAlloc, Layout};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use dlmalloc::DLMalloc;

/// What the helper frees in one request, in order.
pub struct Request {
    /// Each block, with the layout it goes to `DLMalloc.dealloc` with, or
    /// `None` for the C API's `dlfree`.
    pub frees: Vec<(*mut u8, Option<Layout>)>,
    /// Allocates and frees a block of this layout through `DLMalloc`
    /// before the free at this index (the length: after the last): an
    /// allocation ends the helper's streak of frees.
    pub churn: Option<(usize, Layout)>,
}

// SAFETY: the blocks are given up by the driver, which touches them no
// more; the helper is the only one to use them, and frees them.
unsafe impl Send for Request {}

/// The helper's answer once it has done a request.
struct Ack {
    /// The address of the churned block (0: the allocation was refused),
    /// for the driver's overlap check; it is free already.
    churned: Option<usize>,
}

/// A running helper thread.
pub struct Helper {
    requests: Option<Sender<Request>>,
    acks: Receiver<Ack>,
    thread: Option<JoinHandle<()>>,
}

impl Helper {
    /// Starts the helper thread.
    pub fn start() -> Helper {
        let (requests, inbox) = channel::<Request>();
        let (outbox, acks) = channel();
        let thread = std::thread::Builder::new()
            .name("free_elsewhere".into())
            .spawn(move || {
                for request in inbox {
                    // SAFETY: the request's contract (see `Helper::free`).
                    let churned = unsafe { serve(&request) };
                    if outbox.send(Ack { churned }).is_err() {
                        break;
                    }
                }
            })
            .expect("cannot start the free_elsewhere helper thread");
        Helper {
            requests: Some(requests),
            acks,
            thread: Some(thread),
        }
    }

    /// Has the helper do `request` and waits until it has; returns the
    /// address of the churned block, if there was one (0 if refused).
    ///
    /// # Safety
    ///
    /// Every block is a live block of the global heap that the caller gives
    /// up, and `DLMalloc` may free it with its layout.
    pub unsafe fn free(&self, request: Request) -> Option<usize> {
        let requests = self.requests.as_ref().expect("the helper is running");
        requests
            .send(request)
            .expect("the free_elsewhere helper thread is gone");
        self.acks
            .recv()
            .expect("the free_elsewhere helper thread died")
            .churned
    }
}

impl Drop for Helper {
    /// Hangs up and joins the thread, whose exit gives its cache back.
    fn drop(&mut self) {
        self.requests = None;
        let Some(thread) = self.thread.take() else {
            return;
        };
        if thread.join().is_err() && !std::thread::panicking() {
            panic!("the free_elsewhere helper thread panicked");
        }
    }
}

/// Does `request` on the helper thread.
///
/// # Safety
///
/// As for [`Helper::free`].
unsafe fn serve(request: &Request) -> Option<usize> {
    let mut churned = None;
    for (at, &(block, layout)) in request.frees.iter().enumerate() {
        match request.churn {
            Some((before, churn)) if before == at => churned = Some(churn_one(churn)),
            _ => {}
        }
        // SAFETY: a live block of the global heap given up (contract).
        unsafe {
            match layout {
                Some(layout) => DLMalloc.dealloc(block, layout),
                None => dlmalloc_sys::dlfree(block.cast()),
            }
        }
    }
    match request.churn {
        Some((before, churn)) if before >= request.frees.len() => Some(churn_one(churn)),
        _ => churned,
    }
}

/// Allocates a block of `layout` through `DLMalloc`, writes it whole and
/// frees it; returns its address (0: refused).
fn churn_one(layout: Layout) -> usize {
    // SAFETY: the layout's size is not zero (the driver's choice); the
    // block is written within its size, then freed with its layout.
    unsafe {
        let p = DLMalloc.alloc(layout);
        if p.is_null() {
            return 0;
        }
        core::ptr::write_bytes(p, 0xA5, layout.size());
        DLMalloc.dealloc(p, layout);
        p as usize
    }
}
