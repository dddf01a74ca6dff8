//! The fuzz targets' checks (`fuzz/bodies.rs`) on a fixed, seeded stream of generated input,
//! so every `cargo test` runs them without cargo-fuzz or a nightly compiler. Deterministic: the
//! same inputs each run, so a failure reproduces. `cargo fuzz run <target>` explores further
//! (see README, "Fuzzing").

#[path = "../../fuzz/bodies.rs"]
mod bodies;

/// xorshift64*: a small deterministic generator, enough to vary inputs.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// Random bytes, mostly from `alphabet`, sometimes anything.
    fn bytes(&mut self, max: usize, alphabet: &[u8]) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len)
            .map(|_| {
                if self.below(8) == 0 {
                    self.next() as u8
                } else {
                    alphabet[self.below(alphabet.len())]
                }
            })
            .collect()
    }

    /// `text` with a few bytes flipped, cut or repeated.
    fn mutate(&mut self, text: &[u8]) -> Vec<u8> {
        let mut out = text.to_vec();
        for _ in 0..self.below(4) {
            if out.is_empty() {
                break;
            }
            let at = self.below(out.len());
            match self.below(3) {
                0 => out[at] = self.next() as u8,
                1 => out.truncate(at),
                _ => {
                    let piece = out[at..].to_vec();
                    out.extend_from_slice(&piece);
                }
            }
        }
        out
    }
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
const JSON: &[u8] = b"{}[]\":,0123456789.-eE truefalsnul\\ualgkidHS256JWTsubsidgeniatexpaudjtinbf";

#[test]
fn jwt_target_on_generated_input() {
    let mut gen = Gen(0x5eed_0001);
    let valid_header = br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;
    let valid_claims = br#"{"sub":"u","sid":"s","gen":0,"iat":1,"exp":9999999999,"aud":"shipstar:internal","jti":"j"}"#;
    for _ in 0..3000 {
        let input = match gen.below(3) {
            0 => gen.bytes(200, B64URL),
            1 => {
                // A length byte, then header and payload JSON for `bodies::jwt` to sign.
                let header = gen.mutate(valid_header);
                let claims = gen.mutate(valid_claims);
                let mut input = vec![header.len().min(255) as u8];
                input.extend_from_slice(&header[..header.len().min(255)]);
                input.extend_from_slice(&claims);
                input
            }
            _ => {
                let json = gen.bytes(120, JSON);
                let mut input = vec![gen.below(json.len() + 1) as u8];
                input.extend_from_slice(&json);
                input
            }
        };
        bodies::jwt(&input);
    }
}

#[test]
fn api_key_target_on_generated_input() {
    let mut gen = Gen(0x5eed_0002);
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..5000 {
        let mut input = b"sk_live_".to_vec();
        input.extend(gen.bytes(50, alnum));
        let input = gen.mutate(&input);
        bodies::api_key(&input);
    }
}

#[test]
fn request_target_on_generated_input() {
    let mut gen = Gen(0x5eed_0003);
    let methods = [
        "GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD", "get", "BREW",
    ];
    let paths = [
        "/api/v1/health",
        "/api/v1/me",
        "/api/v1/changelogs",
        "/api/v1/blogs",
        "/api/v1/kb",
        "/api/internal/users/me",
        "/api/internal/users",
        "/api/internal/auth/jwt/login",
        "/api/internal/auth/jwt/refresh",
        "/api/internal/auth/jwt/logout",
        "/api/internal/teams",
        "/api/internal/api-keys",
        "/setup",
        "/",
        "/changelog",
        "/blog/hello-world",
        "/kb/Bad_Slug",
    ];
    let queries = [
        "",
        "?limit=5",
        "?limit=-1&offset=x",
        "?token=%zz",
        "?a=%C3%28",
        "?page=2&project=x",
    ];
    let auths = [
        "",
        "Authorization: Bearer {TOKEN}\n",
        "Authorization: Bearer a.b.c\n",
        "Authorization: bearer sk_live_0000\n",
        "X-Api-Key: sk_live_x\n",
    ];
    let types = [
        "",
        "Content-Type: application/json\n",
        "Content-Type: application/x-www-form-urlencoded\n",
        "Content-Type: text/plain\n",
    ];
    let bodies = [
        "",
        r#"{"email":"x@example.com","password":"long-enough-password"}"#,
        r#"{"name":"Team","slug":"team-x"}"#,
        "username=admin%40example.com&password=wrong",
        r#"{"email":1,"password":null,"is_superuser":"yes"}"#,
        "[]",
    ];
    for round in 0..1500 {
        let text = format!(
            "{} {}{}\n{}{}\n",
            gen.pick(&methods),
            gen.pick(&paths),
            gen.pick(&queries),
            gen.pick(&auths),
            gen.pick(&types)
        );
        // Every other input is a real HTTP/1.1 head, which goes through the server's parser.
        let text = if round % 2 == 0 {
            text.replacen('\n', " HTTP/1.1\r\n", 1)
                .replace('\n', "\r\n")
                + "\r\n"
        } else {
            text
        };
        let body = gen.pick(&bodies).as_bytes().to_vec();
        let body = if gen.below(2) == 0 {
            gen.mutate(&body)
        } else {
            body
        };
        let mut input = text.into_bytes();
        input.extend_from_slice(&body);
        bodies::request(&input);
    }
}

#[test]
fn wire_target_on_generated_input() {
    let mut gen = Gen(0x5eed_0004);
    let lines = [
        "GET / HTTP/1.1\r\n",
        "POST /api/internal/users?x=1 HTTP/1.0\r\n",
        "PRI * HTTP/2.0\r\n",
        "GET http://h/p HTTP/1.1\n",
        "\r\n",
    ];
    let fields = [
        "Host: x\r\n",
        "Content-Length: 12\r\n",
        "Content-Length: 1, 2\r\n",
        "Transfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Connection: keep-alive, close\r\n",
        "X-Tab:\tvalue\t\r\n",
        " folded\r\n",
        "Bad Name: x\r\n",
        "\r\n",
    ];
    for _ in 0..5000 {
        let mut input = vec![gen.next() as u8];
        input.extend_from_slice(gen.pick(&lines).as_bytes());
        for _ in 0..gen.below(6) {
            input.extend_from_slice(gen.pick(&fields).as_bytes());
        }
        input.extend_from_slice(b"\r\n1a;x=y\r\n");
        let input = gen.mutate(&input);
        bodies::wire(&input);
        bodies::wire(input.get(1..).unwrap_or_default());
    }
}

#[test]
fn mcp_target_on_generated_input() {
    let mut gen = Gen(0x5eed_0005);
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;
    let messages = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}"#.to_string(),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_changelogs","arguments":{"limit":5,"offset":0}}}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_changelog","arguments":{"slug":"a-b"}}}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_drafts","arguments":{"type":"kb"}}}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"create_content","arguments":{"type":"changelog","title":"T","content":"{\"title\":\"T\",\"entries\":[]}"}}}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"update_content","arguments":{"id":"7d4e3c1a-0000-4000-8000-000000000000","title":""}}}"#.to_string(),
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"publish_content","arguments":{"id":"x","slug":"--"}}}"#.to_string(),
        format!(r#"{{"jsonrpc":"2.0","id":8,"method":"server/discover","params":{{{meta}}}}}"#),
        format!(r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{{meta},"name":"list_changelogs","arguments":{{}}}}}}"#),
        r#"{"jsonrpc":"2.0","id":10,"result":{}}"#.to_string(),
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"x"}]"#.to_string(),
    ];
    for _ in 0..2000 {
        let mut input = vec![gen.next() as u8];
        let message = &messages[gen.below(messages.len())];
        input.extend(if gen.below(4) == 0 {
            gen.bytes(80, JSON)
        } else {
            gen.mutate(message.as_bytes())
        });
        bodies::mcp(&input);
    }
}
