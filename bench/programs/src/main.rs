//! `bench-programs`: the driver of the real-program benchmark (see
//! [`bench_programs::driver`]).

fn main() {
    bench_programs::driver::main();
}
