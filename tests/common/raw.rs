//! Hand-made Socket.IO clients, for tests that decide exactly what goes on the wire and when
//! the client reads: a raw WebSocket, and long-polling over plain HTTP requests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::{TestServer, WAIT};

/// A raw WebSocket to the server.
pub type Ws = WebSocketStream<TcpStream>;

/// The next text frame but Engine.IO pings (answered), within 5 s.
pub async fn text(ws: &mut Ws) -> String {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the connection is open")
            .unwrap();
        match frame {
            Message::Text(t) if t.as_str() == "2" => ws.send(Message::text("3")).await.unwrap(),
            Message::Text(t) => return t.to_string(),
            _ => {}
        }
    }
}

/// A WebSocket to the server's Socket.IO path with `query`, over a small receive buffer.
pub async fn raw_websocket(server: &TestServer, query: &str) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket{query}",
        server.addr
    );
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    ws
}

/// A Socket.IO session over hand-made long-polling requests.
pub struct Polling {
    pub http: reqwest::Client,
    /// The session's polling URL.
    pub url: String,
    /// The Engine.IO session id.
    pub sid: String,
}

impl Polling {
    /// Opens a session, connects with `token` and joins `conv`; returns once the join is
    /// answered.
    pub async fn join(server: &TestServer, token: &str, conv: i64) -> Self {
        let http = reqwest::Client::new();
        let base = format!("{}/socket.io/?EIO=4&transport=polling", server.url);
        let open = http.get(&base).send().await.unwrap().text().await.unwrap();
        let handshake: Value = serde_json::from_str(open.trim_start_matches('0')).unwrap();
        let sid = handshake["sid"].as_str().unwrap().to_owned();
        let session = Self {
            url: format!("{base}&sid={sid}"),
            http,
            sid,
        };
        // As socket.io-client does, the join is sent once the namespace connect is answered:
        // a packet for a namespace not joined yet would end the session.
        session
            .post(format!("40{}", json!({ "token": token })))
            .await;
        session.poll_until("40{").await;
        let join = json!(["join_conversation", { "conversationId": conv }]);
        session.post(format!("421{join}")).await;
        session.poll_until("431[{\"success\":true").await;
        session
    }

    /// Polls until a packet starting with `prefix` arrives.
    pub async fn poll_until(&self, prefix: &str) {
        loop {
            let (status, text) = self.poll().await;
            assert_eq!(status, 200, "{text}");
            if text.split('\u{1e}').any(|p| p.starts_with(prefix)) {
                return;
            }
        }
    }

    /// Sends packets; the server must take them.
    pub async fn post(&self, body: String) {
        let status = self.try_post(body).await;
        assert!((200..300).contains(&status), "{status}");
    }

    /// Sends packets: the answer's status.
    pub async fn try_post(&self, body: String) -> u16 {
        self.http
            .post(&self.url)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// One poll: its status and body.
    pub async fn poll(&self) -> (u16, String) {
        let resp = tokio::time::timeout(Duration::from_secs(30), self.http.get(&self.url).send())
            .await
            .expect("a poll is answered within the ping interval")
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// A Socket.IO connection over a raw WebSocket with a small receive buffer, joined to `conv`.
pub async fn raw_member(server: &TestServer, token: &str, conv: i64) -> Ws {
    let mut ws = raw_websocket(server, "").await;
    assert!(text(&mut ws).await.starts_with('0'), "Engine.IO open");
    let auth = json!({ "token": token });
    ws.send(Message::text(format!("40{auth}"))).await.unwrap();
    assert!(text(&mut ws).await.starts_with("40"), "Socket.IO connect");
    let join = json!(["join_conversation", { "conversationId": conv }]);
    ws.send(Message::text(format!("421{join}"))).await.unwrap();
    let answer = text(&mut ws).await;
    assert!(answer.starts_with("431[{\"success\":true"), "{answer}");
    ws
}
