//! The one Socket.IO packet the server refuses before socketioxide reads it: an event or ack
//! whose acknowledgement id is above `i64::MAX`.
//!
//! socketioxide reads such an id as "no acknowledgement wanted", so the event would run (a
//! message would be stored) and never be answered, breaking the rule that every event gets its
//! answer. No socket.io client sends such ids (they count up from 0); a client that does has
//! its packet refused: the server reads the head of every Socket.IO packet a client sends, on
//! WebSocket ([`Frames`], fed with what the connection reads once it has switched protocols)
//! and in long-polling request bodies ([`Payload`]), and fails the connection or the request
//! before the packet is complete, so it is never handed on. Everything past a packet's head is
//! only counted, never copied.
//!
//! A client that sends WebSocket frames before the server's `101` answer (which no WebSocket
//! client does) has the frames that arrived with its handshake read unchecked.

/// Where the head of one Engine.IO packet has been read to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// Nothing read yet.
    Start,
    /// After `4` (an Engine.IO message): the Socket.IO packet type is next.
    Message,
    /// In the attachment count of a binary event or ack (`5` or `6`), up to its `-`.
    Attachments,
    /// After the type: a namespace (`/...,`), an ack id or the data.
    Namespace,
    /// In a namespace, up to its `,`.
    InNamespace,
    /// After a namespace: an ack id or the data.
    AckStart,
    /// In an ack id: its value so far.
    Ack(i64),
    /// The head is read and the packet is fine: the rest is not looked at.
    Fine,
}

/// What reading a byte of a packet's head decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Fine so far (or for good).
    Pass,
    /// The packet's ack id is above `i64::MAX`: refuse it.
    Refuse,
}

/// Reads the head of one packet, byte by byte.
#[derive(Debug, Clone, Copy)]
struct PacketHead(Head);

impl PacketHead {
    fn new() -> Self {
        Self(Head::Start)
    }

    fn is_read(&self) -> bool {
        self.0 == Head::Fine
    }

    /// Reads the next byte of the packet.
    fn read(&mut self, byte: u8) -> Verdict {
        self.0 = match (self.0, byte) {
            (Head::Start, b'4') => Head::Message,
            // Events and acks carry ack ids, binary ones after their attachment count.
            (Head::Message, b'2' | b'3') => Head::Namespace,
            (Head::Message, b'5' | b'6') => Head::Attachments,
            (Head::Attachments, b'0'..=b'9') => Head::Attachments,
            (Head::Attachments, b'-') => Head::Namespace,
            (Head::Namespace, b'/') => Head::InNamespace,
            (Head::InNamespace, b',') => Head::AckStart,
            (Head::InNamespace, _) => Head::InNamespace,
            (Head::Namespace | Head::AckStart, b'0'..=b'9') => Head::Ack(i64::from(byte - b'0')),
            (Head::Ack(id), b'0'..=b'9') => {
                match id
                    .checked_mul(10)
                    .and_then(|id| id.checked_add(i64::from(byte - b'0')))
                {
                    Some(id) => Head::Ack(id),
                    None => return Verdict::Refuse,
                }
            }
            _ => Head::Fine,
        };
        Verdict::Pass
    }

    /// Reads `bytes` of the packet until its head is read or refused.
    fn read_all(&mut self, bytes: impl IntoIterator<Item = u8>) -> Verdict {
        for byte in bytes {
            if self.is_read() {
                break;
            }
            if self.read(byte) == Verdict::Refuse {
                return Verdict::Refuse;
            }
        }
        Verdict::Pass
    }
}

/// The packets of long-polling request bodies: Engine.IO v4 joins them with the record
/// separator `0x1e`.
#[derive(Debug)]
pub(super) struct Payload {
    packet: PacketHead,
}

/// Engine.IO v4's separator between the packets of a long-polling payload.
const RECORD_SEPARATOR: u8 = 0x1e;

impl Payload {
    /// At the start of a body.
    pub(super) fn new() -> Self {
        Self {
            packet: PacketHead::new(),
        }
    }

    /// Reads the next `chunk` of the body.
    pub(super) fn read(&mut self, chunk: &[u8]) -> Verdict {
        let mut rest = chunk;
        loop {
            let end = rest.iter().position(|&b| b == RECORD_SEPARATOR);
            let packet = end.map_or(rest, |end| &rest[..end]);
            if self.packet.read_all(packet.iter().copied()) == Verdict::Refuse {
                return Verdict::Refuse;
            }
            match end {
                Some(end) => {
                    self.packet = PacketHead::new();
                    rest = &rest[end + 1..];
                }
                None => return Verdict::Pass,
            }
        }
    }
}

/// Longest WebSocket frame header: two bytes, an 8-byte length, a 4-byte mask.
const MAX_FRAME_HEADER: usize = 14;

/// The frames a WebSocket client sends (RFC 6455 §5.2), read for the head of each text
/// message (every Socket.IO packet is one; binary messages are attachments).
#[derive(Debug)]
pub(super) struct Frames {
    /// The current frame's header, while it is incomplete.
    header: [u8; MAX_FRAME_HEADER],
    header_len: usize,
    /// Payload bytes left in the current frame (0: a header is next).
    remaining: u64,
    /// The current frame's mask, and where in it the next payload byte is.
    mask: [u8; 4],
    mask_at: usize,
    /// Whether the current frame's payload is part of the message (not a control frame).
    data: bool,
    /// The head of the current text message, while it is being read.
    packet: Option<PacketHead>,
}

impl Frames {
    /// At the start of a WebSocket connection.
    pub(super) fn new() -> Self {
        Self {
            header: [0; MAX_FRAME_HEADER],
            header_len: 0,
            remaining: 0,
            mask: [0; 4],
            mask_at: 0,
            data: false,
            packet: None,
        }
    }

    /// Reads the next `bytes` the client sent.
    pub(super) fn read(&mut self, mut bytes: &[u8]) -> Verdict {
        while !bytes.is_empty() {
            if self.remaining == 0 && !self.read_header(&mut bytes) {
                continue;
            }
            let len = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let (payload, rest) = bytes.split_at(len);
            if self.data
                && let Some(packet) = self.packet.as_mut().filter(|p| !p.is_read())
            {
                let (mask, at) = (self.mask, self.mask_at);
                let unmasked = payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ mask[(at + i) % 4]);
                if packet.read_all(unmasked) == Verdict::Refuse {
                    return Verdict::Refuse;
                }
            }
            self.mask_at = (self.mask_at + len) % 4;
            self.remaining -= len as u64;
            bytes = rest;
        }
        Verdict::Pass
    }

    /// Takes header bytes from `bytes`; once the header is whole, starts its frame and returns
    /// whether a payload follows (false: still in the header, or an empty frame).
    fn read_header(&mut self, bytes: &mut &[u8]) -> bool {
        loop {
            let needed = self.header_needed();
            if self.header_len == needed {
                break;
            }
            let Some((&byte, rest)) = bytes.split_first() else {
                return false;
            };
            self.header[self.header_len] = byte;
            self.header_len += 1;
            *bytes = rest;
        }
        self.start_frame();
        self.remaining > 0
    }

    /// How long the current header is, as far as its bytes so far tell.
    fn header_needed(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        let masked = self.header[1] & 0x80 != 0;
        let length = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + length + if masked { 4 } else { 0 }
    }

    /// Starts the frame whose header is whole.
    fn start_frame(&mut self) {
        let header = &self.header[..self.header_len];
        let opcode = header[0] & 0x0f;
        let (length, rest) = match header[1] & 0x7f {
            126 => (u64::from(u16::from_be_bytes([header[2], header[3]])), 4),
            127 => {
                let mut be = [0; 8];
                be.copy_from_slice(&header[2..10]);
                (u64::from_be_bytes(be), 10)
            }
            short => (u64::from(short), 2),
        };
        self.mask = [0; 4];
        if header[1] & 0x80 != 0 {
            self.mask.copy_from_slice(&header[rest..rest + 4]);
        }
        self.mask_at = 0;
        self.remaining = length;
        self.header_len = 0;
        // Control frames (8 and up) may come between the frames of a message.
        self.data = opcode < 8;
        match opcode {
            1 => self.packet = Some(PacketHead::new()),
            2 => self.packet = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVER: &str = "9223372036854775808";
    const MAX: &str = "9223372036854775807";

    fn payload_verdict(body: &str) -> Verdict {
        Payload::new().read(body.as_bytes())
    }

    #[test]
    fn ack_ids_above_i64_are_refused_wherever_they_sit() {
        for packet in [
            format!("42{OVER}[\"send_message\",{{}}]"),
            format!("43{OVER}[{{}}]"),
            format!("42/chat,{OVER}[\"x\"]"),
            format!("451-{OVER}[\"x\",{{\"_placeholder\":true,\"num\":0}}]"),
            format!("451-/chat,{OVER}[\"x\"]"),
            format!("42{}[\"x\"]", "9".repeat(40)),
        ] {
            assert_eq!(payload_verdict(&packet), Verdict::Refuse, "{packet}");
        }
    }

    #[test]
    fn every_other_packet_passes() {
        for packet in [
            format!("42{MAX}[\"send_message\",{{}}]"),
            "421[\"send_message\",{}]".to_owned(),
            "42[\"send_message\",{}]".to_owned(),
            "40{\"token\":\"t\"}".to_owned(),
            "2".to_owned(),
            "3probe".to_owned(),
            "5".to_owned(),
            format!("b{OVER}"),
            format!("41{OVER}"),
            format!("42[\"{OVER}{OVER}\"]"),
            format!("42/chat{OVER}"),
        ] {
            assert_eq!(payload_verdict(&packet), Verdict::Pass, "{packet}");
        }
    }

    #[test]
    fn each_packet_of_a_payload_is_read_from_its_start() {
        let body = format!("421[\"a\"]\u{1e}2\u{1e}42{OVER}[\"b\"]");
        assert_eq!(payload_verdict(&body), Verdict::Refuse);
        let body = format!("42[\"{OVER}\"]\u{1e}420[\"b\"]");
        assert_eq!(payload_verdict(&body), Verdict::Pass);
    }

    #[test]
    fn a_payload_split_anywhere_is_read_the_same() {
        let body = format!("421[\"a\"]\u{1e}42/chat,{OVER}[\"b\"]");
        for at in 0..=body.len() {
            let mut payload = Payload::new();
            let first = payload.read(&body.as_bytes()[..at]);
            let second = payload.read(&body.as_bytes()[at..]);
            assert!(
                first == Verdict::Refuse || second == Verdict::Refuse,
                "split at {at}"
            );
        }
    }

    /// A client frame: FIN, `opcode`, masked with `mask`.
    fn frame(opcode: u8, fin: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            len @ 0..=125 => out.push(0x80 | len as u8),
            len @ 126..=0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn frames_verdict_split_everywhere(bytes: &[u8]) -> Vec<Verdict> {
        (0..=bytes.len())
            .map(|at| {
                let mut frames = Frames::new();
                let first = frames.read(&bytes[..at]);
                let second = frames.read(&bytes[at..]);
                if first == Verdict::Refuse || second == Verdict::Refuse {
                    Verdict::Refuse
                } else {
                    Verdict::Pass
                }
            })
            .collect()
    }

    #[test]
    fn a_refused_packet_is_found_in_frames_split_anywhere() {
        let mut bytes = frame(1, true, b"2", MASK);
        bytes.extend(frame(1, true, &[b'x'; 300], MASK));
        bytes.extend(frame(1, true, format!("42{OVER}[\"a\"]").as_bytes(), MASK));
        let verdicts = frames_verdict_split_everywhere(&bytes);
        assert!(verdicts.iter().all(|v| *v == Verdict::Refuse));
    }

    #[test]
    fn a_packet_head_across_fragments_and_a_ping_is_read_whole() {
        let mut bytes = frame(1, false, b"42/ch", MASK);
        bytes.extend(frame(9, true, b"4211111111111111111111", MASK));
        bytes.extend(frame(0, false, b"at,92233", MASK));
        bytes.extend(frame(0, true, b"72036854775808[\"a\"]", MASK));
        assert!(
            frames_verdict_split_everywhere(&bytes)
                .iter()
                .all(|v| *v == Verdict::Refuse)
        );
    }

    #[test]
    fn fine_frames_pass_and_binary_messages_are_not_read() {
        let mut bytes = frame(1, true, format!("42{MAX}[\"a\"]").as_bytes(), MASK);
        bytes.extend(frame(2, true, format!("42{OVER}").as_bytes(), MASK));
        bytes.extend(frame(1, true, &[b'4'; 70_000], MASK));
        bytes.extend(frame(9, true, format!("42{OVER}").as_bytes(), MASK));
        bytes.extend(frame(1, true, b"", MASK));
        bytes.extend(frame(1, true, b"421[\"a\"]", [0; 4]));
        assert_eq!(Frames::new().read(&bytes), Verdict::Pass);
        let mut frames = Frames::new();
        for chunk in bytes.chunks(7) {
            assert_eq!(frames.read(chunk), Verdict::Pass);
        }
    }
}
