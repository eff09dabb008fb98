//! RS256 and ES256 tokens verified with `JWT_PUBLIC_KEY_FILE`, through REST and Socket.IO.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{TestDb, TestServer, exp_in, unique};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn sign(alg: Algorithm, key: &EncodingKey, sub: u64) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &json!({ "sub": sub, "exp": exp_in(600) }),
        key,
    )
    .unwrap()
}

async fn check(alg: Algorithm, public: &str, private: &str) {
    let db = TestDb::fresh().await;
    let server = TestServer::start_with(db, |c| {
        c.jwt_public_key_file = Some(fixture(public));
    })
    .await;
    let pem = std::fs::read(fixture(private)).unwrap();
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
        _ => EncodingKey::from_ec_pem(&pem).unwrap(),
    };
    let me = unique();
    let good = sign(alg, &key, me);
    let (status, body) = server.get("/api/chat/unread-count", &good).await;
    assert_eq!(status, 200, "{alg:?}: {body}");

    // The shared secret no longer signs anything, and neither does another key.
    let (status, _) = server
        .get("/api/chat/unread-count", &server.token(json!(me)))
        .await;
    assert_eq!(status, 401, "{alg:?}: an HS256 token must be refused");
    let other = match alg {
        Algorithm::RS256 => sign(
            Algorithm::ES256,
            &EncodingKey::from_ec_pem(&std::fs::read(fixture("es256-private.pem")).unwrap())
                .unwrap(),
            me,
        ),
        _ => sign(
            Algorithm::RS256,
            &EncodingKey::from_rsa_pem(&std::fs::read(fixture("rs256-private.pem")).unwrap())
                .unwrap(),
            me,
        ),
    };
    let (status, _) = server.get("/api/chat/unread-count", &other).await;
    assert_eq!(
        status, 401,
        "{alg:?}: a token of another algorithm must be refused"
    );

    let socket = server.socket(&good).await;
    let ack = socket
        .ack("join_personal_room", serde_json::Value::Null)
        .await;
    assert_eq!(ack["success"], true);
    socket.close().await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_verify_with_a_public_key() {
    check(Algorithm::RS256, "rs256-public.pem", "rs256-private.pem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es256_tokens_verify_with_a_public_key() {
    check(Algorithm::ES256, "es256-public.pem", "es256-private.pem").await;
}
