//! wrend: the wren DHCPv4 server daemon (being written).
fn main() {
    eprintln!("wrend: not built yet");
    std::process::exit(1);
}
