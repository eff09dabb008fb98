//! The correctness check after a scenario: what the clients were told (acks), what they received
//! (deliveries by `seq`) and what the database holds must agree. Every acknowledged message is
//! stored exactly once as acknowledged, each conversation's `seq` runs 1..n without a gap, and
//! every member's socket received every acknowledged message of its conversation exactly once,
//! in `seq` order.

use std::collections::{HashMap, HashSet};

use crate::client::{AckRecord, ClientFinal, PhaseLog};
use crate::db::Stored;
use crate::proto;
use crate::results::Correctness;

/// Compares the merged client log of a scenario, the clients' final state and the database.
pub(crate) fn check(log: &PhaseLog, finals: &[ClientFinal], stored: &Stored) -> Correctness {
    let mut c = Correctness {
        sent: log.sent,
        acked: log.acked,
        refused: log.refused,
        refusal_example: log.refusal_example.clone(),
        ack_timeouts: log.timed_out,
        unsent: log.unsent,
        stored: stored.messages.len() as u64,
        ..Correctness::default()
    };

    // Per conversation: seqs exactly 1..n, and last_seq = n.
    let mut seqs: HashMap<i64, Vec<i64>> = HashMap::new();
    for m in &stored.messages {
        seqs.entry(m.conversation).or_default().push(m.seq);
    }
    for (&conversation, &last_seq) in &stored.last_seq {
        let mut s = seqs.remove(&conversation).unwrap_or_default();
        s.sort_unstable();
        let gapless = s.iter().zip(1..).all(|(&seq, want)| seq == want);
        if !gapless || last_seq != s.len() as i64 {
            c.seq_errors += 1;
        }
    }
    // Messages in conversations that do not exist.
    c.seq_errors += seqs.len() as u64;

    // Rows by the message index in their client_msg_id.
    let mut rows: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, m) in stored.messages.iter().enumerate() {
        match m
            .client_msg_id
            .as_deref()
            .and_then(proto::parse_client_msg_id)
        {
            Some(index) => rows.entry(index).or_default().push(i),
            None => c.stored_unexplained += 1,
        }
    }
    for found in rows.values() {
        c.stored_twice += found.len().saturating_sub(1) as u64;
    }

    let acked: HashMap<u32, &AckRecord> = log.acks.iter().map(|a| (a.index, a)).collect();
    for ack in &log.acks {
        match rows.get(&ack.index).and_then(|r| r.first()) {
            None => c.acked_missing += 1,
            Some(&i) => {
                let m = &stored.messages[i];
                if (m.id, m.conversation, m.seq) == (ack.id, ack.conversation, ack.seq) {
                    c.acked_stored += 1;
                } else {
                    c.ack_mismatch += 1;
                }
            }
        }
    }
    let timed_out: HashSet<u32> = log.timed_out_ids.iter().copied().collect();
    for index in rows.keys() {
        if !acked.contains_key(index) {
            if timed_out.contains(index) {
                c.stored_after_timeout += 1;
            } else {
                c.stored_unexplained += 1;
            }
        }
    }

    // Deliveries: for each member socket, each stored message of its conversation.
    let mut by_conversation: HashMap<i64, Vec<(i64, bool)>> = HashMap::new();
    for (index, found) in &rows {
        for &i in found {
            let m = &stored.messages[i];
            by_conversation
                .entry(m.conversation)
                .or_default()
                .push((m.seq, acked.contains_key(index)));
        }
    }
    for client in finals {
        c.order_violations += client.order_violations;
        c.unexpected_deliveries += client.unexpected;
        if client.disconnect.is_some() {
            c.disconnects += 1;
            if c.disconnect_example.is_none() {
                c.disconnect_example.clone_from(&client.disconnect);
            }
        }
        let Some(conversation) = client.conversation else {
            continue;
        };
        let messages = by_conversation
            .get(&conversation)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut known = vec![false; client.seen.len()];
        for &(seq, was_acked) in messages {
            let slot = usize::try_from(seq).unwrap_or(usize::MAX);
            let count = u64::from(client.seen.get(slot).copied().unwrap_or(0));
            if let Some(k) = known.get_mut(slot) {
                *k = true;
            }
            c.duplicate_deliveries += count.saturating_sub(1);
            match (was_acked, count) {
                (true, 0) => c.lost_deliveries += 1,
                (true, _) => c.delivered += 1,
                (false, 0) => c.unacked_undelivered += 1,
                (false, _) => {}
            }
            if was_acked {
                c.expected_deliveries += 1;
            }
        }
        // Deliveries of a seq the database does not hold for this conversation.
        for (&count, &is_known) in client.seen.iter().zip(&known) {
            if !is_known {
                c.unexpected_deliveries += u64::from(count);
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::StoredMessage;

    fn row(id: i64, seq: i64, index: u32) -> StoredMessage {
        StoredMessage {
            id,
            conversation: 1,
            seq,
            client_msg_id: Some(format!("b{index}")),
        }
    }

    fn ack(index: u32, id: i64, seq: i64) -> AckRecord {
        AckRecord {
            index,
            id,
            conversation: 1,
            seq,
        }
    }

    fn member(seen: &[u8]) -> ClientFinal {
        ClientFinal {
            conversation: Some(1),
            seen: seen.to_vec(),
            order_violations: 0,
            unexpected: 0,
            disconnect: None,
        }
    }

    fn scene() -> (PhaseLog, Stored) {
        let log = PhaseLog {
            sent: 3,
            acked: 2,
            timed_out: 1,
            acks: vec![ack(0, 10, 1), ack(1, 11, 2)],
            timed_out_ids: vec![2],
            ..PhaseLog::default()
        };
        let stored = Stored {
            messages: vec![row(10, 1, 0), row(11, 2, 1), row(12, 3, 2)],
            last_seq: HashMap::from([(1, 3)]),
        };
        (log, stored)
    }

    #[test]
    fn a_clean_run_passes() {
        let (log, stored) = scene();
        // Two members; the message whose ack timed out reached one of them.
        let c = check(
            &log,
            &[member(&[0, 1, 1, 1]), member(&[0, 1, 1, 0])],
            &stored,
        );
        assert!(c.ok(), "{:?}", c.problems());
        assert_eq!(c.acked_stored, 2);
        assert_eq!(c.stored_after_timeout, 1);
        assert_eq!((c.expected_deliveries, c.delivered), (4, 4));
        assert_eq!(c.unacked_undelivered, 1);
    }

    #[test]
    fn losses_duplicates_and_gaps_are_caught() {
        let (log, mut stored) = scene();
        let c = check(
            &log,
            &[member(&[0, 1, 0, 1]), member(&[0, 2, 1, 0, 1])],
            &stored,
        );
        assert_eq!(c.lost_deliveries, 1);
        assert_eq!(c.duplicate_deliveries, 1);
        assert_eq!(c.unexpected_deliveries, 1);
        assert!(!c.ok());

        stored.messages.remove(1);
        let c = check(&log, &[], &stored);
        assert_eq!(c.acked_missing, 1);
        assert_eq!(c.seq_errors, 1);

        let (log, mut stored) = scene();
        stored.messages.push(row(13, 4, 0));
        stored.last_seq.insert(1, 4);
        let c = check(&log, &[], &stored);
        assert_eq!(c.stored_twice, 1);
        assert!(!c.ok());

        let (mut log, stored) = scene();
        log.acks[1].seq = 7;
        assert_eq!(check(&log, &[], &stored).ack_mismatch, 1);
    }
}
