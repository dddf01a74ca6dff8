//! A small blocking W3C WebDriver client for the dashboard's browser test: it starts
//! chromedriver, opens one headless Chromium session and speaks the WebDriver HTTP protocol
//! over a plain `TcpStream` (one request per connection, JSON bodies), like the fixture does
//! with the server. No async runtime, no WebDriver crate.
//!
//! Every wait has a deadline, every socket read a timeout, and `Drop` ends the session and
//! kills chromedriver's whole process group (Chromium included), so a failing or hanging test
//! never leaves a browser behind.

use crate::fixture::read_response;
use serde_json::{json, Value};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key under which WebDriver returns element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long one WebDriver command may take before the test gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The default deadline of the `wait_*` helpers.
pub const WAIT: Duration = Duration::from_secs(20);

const INSTALL_HINT: &str = "the dashboard browser test needs Chromium and chromedriver: \
     run ./test, which installs them (Debian/Ubuntu), or install them yourself \
     (`sudo apt-get install -y chromium chromium-driver`) or point CHROMEDRIVER and CHROMIUM \
     at the binaries";

/// The Down Arrow key, for [`Browser::send_keys`] (WebDriver's code point for it).
pub const ARROW_DOWN: &str = "\u{E015}";
/// The Enter key, for [`Browser::send_keys`].
pub const ENTER: &str = "\u{E007}";

/// An element reference of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// A headless Chromium driven through chromedriver.
pub struct Browser {
    driver: Option<Child>,
    addr: SocketAddr,
    session: String,
    profile: PathBuf,
    driver_log: PathBuf,
}

fn find_binary(env_name: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_name).map(PathBuf::from) {
        return path.is_file().then_some(path);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for name in candidates {
        for dir in std::env::split_paths(&path_var).chain([PathBuf::from("/usr/bin")]) {
            let full = dir.join(name);
            if full.is_file() {
                return Some(full);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

/// One WebDriver exchange: method, path, optional JSON body → (status, JSON answer).
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    stream.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if body.is_some() {
        request.push_str("Content-Type: application/json; charset=utf-8\r\n");
    }
    request.push_str(&format!(
        "Content-Length: {}\r\n\r\n{payload}",
        payload.len()
    ));
    stream.write_all(request.as_bytes())?;
    let resp = read_response(&mut BufReader::new(stream))?;
    let value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    Ok((resp.status, value))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile, viewport 1280x800.
    /// Panics with installation instructions when either binary is missing.
    pub fn launch(scratch: &Path) -> Browser {
        let driver_bin = find_binary("CHROMEDRIVER", &["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver not found: {INSTALL_HINT}"));
        let chromium = find_binary(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .unwrap_or_else(|| panic!("Chromium not found: {INSTALL_HINT}"));
        let profile = scratch.join("chromium-profile");
        std::fs::create_dir_all(&profile).expect("profile directory");
        let driver_log = scratch.join("chromedriver.log");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let log = std::fs::File::create(&driver_log).expect("chromedriver log");
        // Its own process group, so Drop can end chromedriver and every Chromium process it
        // started with one signal, even if the session could not be closed politely.
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "could not start {}: {err}; {INSTALL_HINT}",
                    driver_bin.display()
                )
            });
        let mut browser = Browser {
            driver: Some(driver),
            addr,
            session: String::new(),
            profile,
            driver_log,
        };
        browser.wait_for_driver();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--window-size=1280,800",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", browser.profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.to_string_lossy(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"implicit": 0, "pageLoad": 30_000, "script": 15_000},
            "unhandledPromptBehavior": "dismiss",
        }}});
        let answer = browser
            .raw("POST", "/session", Some(&capabilities))
            .unwrap_or_else(|err| {
                panic!("no browser session: {err}\n{}", browser.driver_log_text())
            });
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {answer}"))
            .to_string();
        browser.set_viewport(1280, 800, false);
        browser
    }

    fn wait_for_driver(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok((200, status)) = exchange(self.addr, "GET", "/status", None) {
                if status["value"]["ready"] == json!(true) {
                    return;
                }
            }
            if let Some(Ok(Some(code))) = self.driver.as_mut().map(Child::try_wait) {
                panic!(
                    "chromedriver exited with {code}:\n{}",
                    self.driver_log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not get ready:\n{}",
                self.driver_log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn driver_log_text(&self) -> String {
        std::fs::read_to_string(&self.driver_log).unwrap_or_default()
    }

    /// Sends a command; `Ok(value)` for 2xx, `Err(message)` with WebDriver's error otherwise.
    fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let (status, answer) = exchange(self.addr, method, path, body)
            .map_err(|err| format!("{method} {path}: {err}"))?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(format!(
                "{method} {path} -> {status}: {} {}",
                value["error"], value["message"]
            ))
        }
    }

    /// A command of this session that must succeed.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.session);
        self.raw(method, &full, body.as_ref())
            .unwrap_or_else(|err| panic!("{err}"))
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Reloads the page.
    pub fn refresh(&self) {
        self.cmd("POST", "/refresh", Some(json!({})));
    }

    /// Sets an input's value as a script would and fires `input`, for controls whose typing
    /// depends on the browser's locale (dates).
    pub fn set_value(&self, css: &str, value: &str) {
        self.wait_visible(css);
        self.js(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];
             el.dispatchEvent(new Event('input', {bubbles: true}));",
            json!([css, value]),
        );
    }

    pub fn current_url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The first element matching `css`, if any.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        let full = format!("/session/{}/element", self.session);
        self.raw(
            "POST",
            &full,
            Some(&json!({"using": "css selector", "value": css})),
        )
        .ok()
        .and_then(|v| v[ELEMENT_KEY].as_str().map(|id| Element(id.to_string())))
    }

    /// Polls `predicate` until it holds, for at most `WAIT`; panics naming `what` otherwise.
    pub fn wait_until(&self, what: &str, mut predicate: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !predicate() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; page text:\n{}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until an element matching `css` is rendered (has a layout box) and returns it.
    pub fn wait_visible(&self, css: &str) -> Element {
        let script = "const el = document.querySelector(arguments[0]); \
                      return !!el && el.getClientRects().length > 0;";
        self.wait_until(&format!("{css} to be visible"), || {
            self.js(script, json!([css])) == json!(true)
        });
        self.try_find(css)
            .unwrap_or_else(|| panic!("{css} vanished"))
    }

    /// Waits until the element matching `css` has text containing `needle`.
    pub fn wait_text(&self, css: &str, needle: &str) {
        let script = "const el = document.querySelector(arguments[0]); \
                      return el ? el.textContent : '';";
        self.wait_until(&format!("{css} to contain {needle:?}"), || {
            self.js(script, json!([css]))
                .as_str()
                .unwrap_or_default()
                .contains(needle)
        });
    }

    /// Waits until nothing matches `css`.
    pub fn wait_gone(&self, css: &str) {
        let script = "return document.querySelector(arguments[0]) === null;";
        self.wait_until(&format!("{css} to go away"), || {
            self.js(script, json!([css])) == json!(true)
        });
    }

    pub fn click(&self, css: &str) {
        let el = self.wait_visible(css);
        self.cmd("POST", &format!("/element/{}/click", el.0), Some(json!({})));
    }

    /// Replaces the value of the input matching `css` by typing `text`.
    pub fn fill(&self, css: &str, text: &str) {
        let el = self.wait_visible(css);
        self.cmd("POST", &format!("/element/{}/clear", el.0), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        );
    }

    /// Types `keys` into the element matching `css` (focusing it first) without clearing it:
    /// the keyboard path. Special keys are WebDriver code points, such as [`ARROW_DOWN`].
    pub fn send_keys(&self, css: &str, keys: &str) {
        let el = self.wait_visible(css);
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": keys })),
        );
    }

    /// The visible text of the whole page, for failure messages.
    pub fn page_text(&self) -> String {
        let full = format!("/session/{}/execute/sync", self.session);
        self.raw(
            "POST",
            &full,
            Some(&json!({"script": "return document.body ? document.body.innerText : '';", "args": []})),
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
    }

    /// Emulates a viewport of `width` x `height` CSS pixels (a phone when `mobile`).
    pub fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
                }}),
            ),
        );
    }

    /// Saves a PNG of the viewport.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let encoded = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::write(path, png).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
    }

    /// Browser console entries since the last call (level and message).
    pub fn console(&self) -> Vec<(String, String)> {
        let value = self.cmd("POST", "/se/log", Some(json!({"type": "browser"})));
        value
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_string(),
                            e["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = exchange(
                self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        if let Some(mut driver) = self.driver.take() {
            // The group id is chromedriver's pid (process_group(0) above).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", driver.id())])
                .stderr(Stdio::null())
                .status();
            let _ = driver.kill();
            let _ = driver.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- chromedriver log ---\n{}", self.driver_log_text());
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
