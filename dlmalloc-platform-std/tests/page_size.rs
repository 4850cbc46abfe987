//! `custom_page_size` is the system's page size, read at run time.

use dlmalloc_platform_std::custom_page_size;

#[test]
fn page_size_is_the_systems() {
    // SAFETY: sysconf has no preconditions.
    let system = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = custom_page_size();
    assert_eq!(Ok(page), usize::try_from(system));
    assert!(page.is_power_of_two());
    // Cached: later calls agree.
    assert_eq!(custom_page_size(), page);
}
