//! DHCP message parser: `wren_core::wire::message::Message::parse` on arbitrary bytes, then
//! every typed accessor (they must treat malformed options as absent, never panic), and the
//! raw-frame unwrapper `parse_udp_frame` on the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wren_core::wire::frame::parse_udp_frame;
use wren_core::wire::message::Message;

fuzz_target!(|data: &[u8]| {
    let mut scratch = vec![0u8; data.len()];
    if let Ok(m) = Message::parse(data, &mut scratch) {
        let _ = m.message_type();
        let _ = m.requested_address();
        let _ = m.server_identifier();
        let _ = m.has_server_identifier();
        let _ = m.lease_time();
        let _ = m.client_identifier();
        let _ = m.parameter_request_list();
        let _ = m.max_message_size();
        let _ = m.hostname();
        let _ = m.vendor_class_identifier();
        let _ = m.user_class();
        let _ = m.client_system();
        let _ = m.client_architectures().count();
        if let Some(rai) = m.relay_agent_information() {
            let _ = rai.sub_options().count();
            let _ = rai.get(1);
            let _ = rai.get(5);
        }
        let _ = m.subnet_selection();
        let _ = m.client_fqdn();
        for code in [0u8, 1, 52, 53, 61, 82, 255] {
            let _ = m.option(code);
        }
    }
    if let Ok(udp) = parse_udp_frame(data) {
        assert!(udp.payload.len() <= data.len());
    }
});
