//! The cost of handling one WeChat push against the raw crypto floor on this machine.
//!
//! `cargo bench -p server --bench wechat_crypto`; results and the ratio go in docs/benchmarks.md.
//! The floor is what any implementation must pay for the same bytes: one AES-256-CBC decryption of
//! the ciphertext and one SHA-1 over the signed text; everything above it is base64, layout checks,
//! XML parsing and allocation.

use std::hint::black_box;

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha1::{Digest, Sha1};
use wxhub::wechat::crypto::{decode_aes_key, MsgCrypt};
use wxhub::wechat::xml::{build_envelope, parse_component_push, parse_envelope};

const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wx3c0d9b0e1a2f4c5d";
const TICKET: &str = "<xml><AppId><![CDATA[wx3c0d9b0e1a2f4c5d]]></AppId><CreateTime>1413192605</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@example]]></ComponentVerifyTicket></xml>";
const REPLY: &str = "<xml><ToUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></ToUserName><FromUserName><![CDATA[gh_10f6c3c3ac5a]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT_callback]]></Content></xml>";

fn push(c: &mut Criterion) {
    let crypto = MsgCrypt::new("componenttoken", KEY, APPID).expect("static key");
    let sealed = crypto.encrypt(TICKET, "1413192605", "1320562132");
    let body = build_envelope(APPID, &sealed.encrypt);

    let mut group = c.benchmark_group("ticket_push");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_decrypt_parse", |b| {
        b.iter(|| {
            let envelope = parse_envelope(black_box(body.as_bytes())).expect("envelope");
            let plain = crypto
                .verify_and_decrypt(
                    "1413192605",
                    "1320562132",
                    &sealed.msg_signature,
                    &envelope.encrypt,
                )
                .expect("decrypts");
            parse_component_push(plain.message.as_bytes()).expect("parses")
        })
    });
    // Where the time above goes: the two XML parses on their own.
    group.bench_function("parts/envelope_parse", |b| {
        b.iter(|| parse_envelope(black_box(body.as_bytes())).expect("envelope"))
    });
    group.bench_function("parts/push_parse", |b| {
        b.iter(|| parse_component_push(black_box(TICKET.as_bytes())).expect("parses"))
    });
    group.bench_function("parts/verify_decrypt", |b| {
        b.iter(|| {
            crypto
                .verify_and_decrypt(
                    "1413192605",
                    "1320562132",
                    &sealed.msg_signature,
                    black_box(&sealed.encrypt),
                )
                .expect("decrypts")
        })
    });
    group.bench_function("encrypt_reply", |b| {
        b.iter(|| {
            crypto
                .encrypt(black_box(REPLY), "1409735669", "1320562132")
                .to_xml()
        })
    });

    // The floor: AES-256-CBC over the same ciphertext bytes plus SHA-1 over the same signed text.
    let key = decode_aes_key(KEY).expect("static key");
    let iv: [u8; 16] = key[..16].try_into().expect("16 bytes");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&sealed.encrypt)
        .expect("base64");
    let signed = format!("1320562132{}1413192605componenttoken", sealed.encrypt);
    group.bench_function("floor_aes_cbc_decrypt_plus_sha1", |b| {
        b.iter(|| {
            let mut buf = raw.clone();
            let plain = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into())
                .decrypt_padded_mut::<NoPadding>(black_box(&mut buf))
                .expect("aligned")
                .len();
            (plain, Sha1::digest(black_box(signed.as_bytes())))
        })
    });
    let reply_len = 16 + 4 + REPLY.len() + APPID.len();
    let padded = reply_len + (32 - reply_len % 32);
    let reply_plain = vec![7u8; padded];
    group.bench_function("floor_aes_cbc_encrypt_plus_sha1", |b| {
        b.iter(|| {
            let mut buf = reply_plain.clone();
            let len = buf.len();
            let out = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into())
                .encrypt_padded_mut::<NoPadding>(black_box(&mut buf), len)
                .expect("aligned")
                .len();
            (out, Sha1::digest(black_box(signed.as_bytes())))
        })
    });
    group.finish();
}

criterion_group!(benches, push);
criterion_main!(benches);
