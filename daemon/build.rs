//! Linux/glibc: link GCC's unwinder statically (`libgcc_eh.a`, whole) so that `wrend` needs
//! no shared library beyond libc (and its loader). Rust's std otherwise pulls in
//! `libgcc_s.so.1` for `_Unwind_*` (backtraces, and unwinding in the test builds); with the
//! static copy linked ahead of std's `-lgcc_s`, the linker's `--as-needed` (rustc's default
//! on Linux) leaves `libgcc_s` out. Panics still print a backtrace. Costs ~60 KB of binary.
//! FreeBSD links its unwinder from libc's base system already; other targets are untouched.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let static_crt = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .unwrap_or_default()
        .split(',')
        .any(|f| f == "crt-static");
    if os == "linux" && env == "gnu" && !static_crt {
        println!("cargo:rustc-link-lib=static:+whole-archive,-bundle=gcc_eh");
    }
}
