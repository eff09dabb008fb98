//! What a connection may cost before it does real work: header and body timeouts, idle
//! keep-alive connections, the connection cap, the Socket.IO join timeout, and the
//! per-connection close handle. Raw TCP against the real server on 127.0.0.1.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{SocketClient, TestDb, TestServer};
use parley::serve::{ConnectionCloser, Drained, Limits, Server};
use rust_socketio::TransportType;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// The header timeout of these servers.
const HEADER_TIMEOUT: Duration = Duration::from_millis(500);
/// Time allowed past a timeout for the server to act on it (and a loaded machine to notice).
const MARGIN: Duration = Duration::from_millis(2_500);

async fn server_with(tune: impl FnOnce(&mut parley::config::Config)) -> TestServer {
    TestServer::start_with(TestDb::fresh().await, |c| {
        c.http_header_timeout_ms = u64::try_from(HEADER_TIMEOUT.as_millis()).unwrap();
        tune(c);
    })
    .await
}

/// Reads until the peer closes (end of file or a reset); returns what was read before.
async fn until_closed(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one HTTP response (head and a `Content-Length` body); returns the head and the body.
async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> (String, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if data.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
                return (head, body);
            }
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed mid-response: {}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&buf[..n]);
    }
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: parley\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_byte_by_byte_is_cut_at_the_header_timeout() {
    let server = server_with(|_| {}).await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(b"GET /health HTTP/1.1\r\nHost: parley\r\nX-Slow: ")
        .await
        .unwrap();
    // One more byte of the head every 200 ms: never complete, never silent.
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b"a").await.is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let answered = timeout(HEADER_TIMEOUT + MARGIN, until_closed(&mut read))
        .await
        .expect("a connection trickling its head was not closed");
    assert!(
        answered.is_empty(),
        "{}",
        String::from_utf8_lossy(&answered)
    );
    assert!(started.elapsed() >= HEADER_TIMEOUT / 2, "closed too early");
    trickle.abort();
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_at_the_header_timeout() {
    let server = server_with(|_| {}).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(HEALTH).await.unwrap();
    let (head, body) = timeout(MARGIN, read_response(&mut stream)).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    assert!(body.contains("ok"), "{body}");
    // The connection stays open for a next request, but not for ever.
    let rest = timeout(HEADER_TIMEOUT + MARGIN, until_closed(&mut stream))
        .await
        .expect("an idle keep-alive connection was not closed");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_serves_the_next_request_before_the_timeout() {
    let server = server_with(|_| {}).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..3 {
        stream.write_all(HEALTH).await.unwrap();
        let (head, _) = timeout(MARGIN, read_response(&mut stream)).await.unwrap();
        assert!(head.starts_with("http/1.1 200"), "{head}");
    }
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_in_gets_408_and_the_connection_ends() {
    let server = server_with(|_| {}).await;
    let token = server.token(json!(common::unique()));
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /api/chat/send HTTP/1.1\r\nHost: parley\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"content\":\""
    );
    write.write_all(head.as_bytes()).await.unwrap();
    // A byte every 100 ms: a timeout between reads would never fire; the 200 bytes would
    // take 20 s.
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b"a").await.is_err() {
                return;
            }
        }
    });
    let (head, body) = timeout(HEADER_TIMEOUT + MARGIN, read_response(&mut read))
        .await
        .expect("a trickling body was not answered in time");
    assert!(head.starts_with("http/1.1 408"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT", "{body}");
    timeout(MARGIN, until_closed(&mut read))
        .await
        .expect("the connection was not closed after the 408");
    trickle.abort();
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_a_new_client_waits_only_until_idle_ones_time_out() {
    let header_timeout = Duration::from_millis(1_000);
    let server = TestServer::start_with(TestDb::fresh().await, |c| {
        c.http_header_timeout_ms = 1_000;
        c.max_connections = 8;
    })
    .await;
    // Eight connections that never send a byte fill the cap.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    let mut late = TcpStream::connect(server.addr).await.unwrap();
    late.write_all(HEALTH).await.unwrap();
    let mut response = Box::pin(read_response(&mut late));
    // The cap holds: nothing answers while every slot is taken by a young idle connection.
    assert!(
        timeout(header_timeout / 3, response.as_mut())
            .await
            .is_err(),
        "answered past the connection cap"
    );
    // The idle ones time out, which frees their slots: the waiting client gets its answer.
    let (head, _) = timeout(header_timeout + MARGIN, response)
        .await
        .expect("the waiting client was never answered");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    for mut stream in idle {
        timeout(MARGIN, until_closed(&mut stream))
            .await
            .expect("an idle connection was not closed");
    }
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_io_session_that_never_joins_is_closed() {
    let server = server_with(|_| {}).await;
    let http = reqwest::Client::new();
    let open = http
        .get(format!("{}/socket.io/?EIO=4&transport=polling", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // `0{"sid":"...",...}`: the Engine.IO open packet. No Socket.IO CONNECT follows.
    let handshake: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = handshake["sid"].as_str().unwrap();
    let poll = format!(
        "{}/socket.io/?EIO=4&transport=polling&sid={sid}",
        server.url
    );
    // A live session holds each poll until it has a packet to send (a ping every 25 s); a
    // closed one answers the close packet `1`, or `400` for a session it no longer knows.
    let closed = async {
        loop {
            let answer = http.get(&poll).send().await.unwrap();
            let status = answer.status();
            let body = answer.text().await.unwrap();
            if status == 400 || body.split('\u{1e}').any(|packet| packet == "1") {
                return;
            }
            assert_eq!(status, 200, "{body}");
        }
    };
    timeout(HEADER_TIMEOUT + MARGIN, closed)
        .await
        .expect("a session without CONNECT was not closed at the join timeout");
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_still_connect_and_work_with_short_timeouts() {
    let server = server_with(|_| {}).await;
    let (a, b) = (json!(common::unique()), json!(common::unique()));
    for transport in [TransportType::Websocket, TransportType::Polling] {
        let sa = SocketClient::connect(&server.url, &server.token(a.clone()), transport).await;
        // Longer than the header timeout: a live socket is not an idle connection.
        tokio::time::sleep(HEADER_TIMEOUT * 3).await;
        let ack = sa
            .ack(
                "send_message",
                json!({ "receiverId": b, "content": "still here" }),
            )
            .await;
        assert_eq!(ack["success"], true, "{ack}");
        sa.close().await;
    }
    server.finish().await;
}

/// A server of our own on [`Server`]: a route that closes its own connection, and a Socket.IO
/// namespace that hands each socket's closer to the test, both behind parley's
/// `detach_request_head` (which must keep the closer).
async fn closer_app() -> (
    Server,
    SocketAddr,
    mpsc::UnboundedReceiver<Option<ConnectionCloser>>,
    mpsc::UnboundedReceiver<()>,
) {
    use socketioxide::SocketIo;
    use socketioxide::extract::SocketRef;
    let (closers_tx, closers) = mpsc::unbounded_channel();
    let (gone_tx, gone) = mpsc::unbounded_channel();
    let (layer, io) = SocketIo::new_layer();
    io.ns("/", async move |socket: SocketRef| {
        // The extraction a socketioxide handler uses.
        let closer = socket
            .req_parts()
            .extensions
            .get::<ConnectionCloser>()
            .cloned();
        let _ = closers_tx.send(closer);
        let gone_tx = gone_tx.clone();
        socket.on_disconnect(async move || {
            let _ = gone_tx.send(());
        });
    });
    let router = axum::Router::new()
        .route(
            "/close-me",
            axum::routing::get(
                |axum::Extension(closer): axum::Extension<ConnectionCloser>| async move {
                    closer.close();
                    "closed"
                },
            ),
        )
        .layer(layer)
        .layer(tower::util::MapRequestLayer::new(
            parley::transport::socket::detach_request_head::<axum::body::Body>,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits {
        header_timeout: Duration::from_secs(10),
        max_connections: 100,
        uploads: (Vec::new(), Duration::from_secs(10)),
    };
    (
        Server::start(listener, router, &limits),
        addr,
        closers,
        gone,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_can_close_its_own_connection() {
    let (server, addr, _, _) = closer_app().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /close-me HTTP/1.1\r\nHost: parley\r\n\r\n")
        .await
        .unwrap();
    let answered = timeout(MARGIN, until_closed(&mut stream))
        .await
        .expect("the connection was not closed by its handle");
    // Closed before its answer could be written.
    assert!(
        answered.is_empty(),
        "{}",
        String::from_utf8_lossy(&answered)
    );
    assert_eq!(
        server.drain(Instant::now() + MARGIN).await,
        Drained::Finished
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_sockets_connection_ends_its_websocket_at_once() {
    let (server, addr, mut closers, mut gone) = closer_app().await;
    let client = SocketClient::connect(
        &format!("http://{addr}"),
        "no-token-needed",
        TransportType::Websocket,
    )
    .await;
    let closer = timeout(MARGIN, closers.recv())
        .await
        .unwrap()
        .unwrap()
        .expect("the socket's request has no ConnectionCloser");
    assert!(!closer.is_closed());
    assert_eq!(server.open_connections(), 1);
    closer.close();
    // Without the handle, the server would notice only at the ping timeout (45 s).
    timeout(MARGIN, gone.recv())
        .await
        .expect("the socket was not disconnected when its connection was closed");
    // The WebSocket gave its connection slot back.
    let deadline = Instant::now() + MARGIN;
    while server.open_connections() > 0 {
        assert!(
            Instant::now() < deadline,
            "the connection slot was not freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(client);
    assert_eq!(
        server.drain(Instant::now() + MARGIN).await,
        Drained::Finished
    );
}

/// An acknowledgement id one above `i64::MAX`: socketioxide would read it as no
/// acknowledgement at all, run the event and never answer it.
const ACK_ID_OVER_I64: &str = "9223372036854775808";

/// A server with a direct conversation A opened with B: the server, A's token, the conversation.
async fn direct_pair() -> (TestServer, String, i64) {
    let server = TestServer::start().await;
    let (a, b) = (json!(common::unique()), json!(common::unique()));
    let ta = server.token(a);
    let conv = server.open_direct(&ta, &b, "hi").await;
    (server, ta, conv)
}

/// How many messages `conv` holds.
async fn stored(server: &TestServer, token: &str, conv: i64) -> u64 {
    let (status, page) = server
        .get(
            &format!("/api/chat/conversations/{conv}/messages?limit=1&after_seq=0"),
            token,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"]["total"].as_u64().unwrap()
}

/// A send with acknowledgement id `ack`.
fn send_packet(ack: &str, conv: i64, content: &str) -> String {
    let event = json!(["send_message", { "conversationId": conv, "content": content }]);
    format!("42{ack}{event}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_packet_with_an_ack_id_above_64_bits_is_refused_and_stores_nothing() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let (server, ta, conv) = direct_pair().await;
    let mut ws = common::raw::raw_member(&server, &ta, conv).await;
    // The refused send, then one the server answers if it read past the first: sends from one
    // socket run in order, so an answer to the second means the first ran.
    ws.send(Message::text(send_packet(
        ACK_ID_OVER_I64,
        conv,
        "unanswerable",
    )))
    .await
    .unwrap();
    ws.send(Message::text(send_packet("2", conv, "after it")))
        .await
        .unwrap();
    let closed = loop {
        match timeout(common::WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.starts_with("432") => break Err(t.to_string()),
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => break Ok(()),
            Ok(Some(Ok(_))) => {}
            Err(_) => break Err("neither an answer nor a close within 5 s".to_owned()),
        }
    };
    assert_eq!(
        closed,
        Ok(()),
        "the connection must close at the refused packet"
    );
    assert_eq!(
        stored(&server, &ta, conv).await,
        1,
        "only the first message"
    );

    // The server serves the next client as before.
    let mut again = common::raw::raw_member(&server, &ta, conv).await;
    again
        .send(Message::text(send_packet("7", conv, "fine")))
        .await
        .unwrap();
    // The sender hears its own message in the room, and its answer.
    let answer = loop {
        let packet = common::raw::text(&mut again).await;
        if packet.starts_with("43") {
            break packet;
        }
    };
    assert!(answer.starts_with("437[{\"success\":true"), "{answer}");
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_polling_packet_with_an_ack_id_above_64_bits_is_refused_and_stores_nothing() {
    let (server, ta, conv) = direct_pair().await;
    let polling = common::raw::Polling::join(&server, &ta, conv).await;
    let body = format!(
        "{}\u{1e}{}",
        send_packet(ACK_ID_OVER_I64, conv, "unanswerable"),
        send_packet("2", conv, "after it")
    );
    let status = polling.try_post(body).await;
    assert_eq!(status, 400, "the payload holding the packet is refused");
    // The session ended with it.
    let (status, text) = polling.poll().await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        stored(&server, &ta, conv).await,
        1,
        "only the first message"
    );

    // A new session works.
    let polling = common::raw::Polling::join(&server, &ta, conv).await;
    polling.post(send_packet("3", conv, "fine")).await;
    polling.poll_until("433[{\"success\":true").await;
    assert_eq!(stored(&server, &ta, conv).await, 2);
    server.finish().await;
}
