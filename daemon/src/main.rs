//! wrend: the wren DHCPv4 server daemon (PLACEHOLDER: being written).
#[allow(dead_code)] // called by the event loop (branch `daemon`)
mod lease_file;
#[allow(dead_code)] // called by the event loop (branch `daemon`)
mod logging;

fn main() {
    eprintln!("wrend: not built yet");
    std::process::exit(1);
}
