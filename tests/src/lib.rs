//! Support for system tests: the real `imprint` binary started as its own process on free
//! ports, configured by flags and `IMPRINT__…` variables as an operator would, and stopped with
//! the signals an orchestrator sends.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// The `imprint` binary under test: `IMPRINT_BIN`, or the one built beside this test.
pub fn imprint_binary() -> PathBuf {
    if let Ok(path) = std::env::var("IMPRINT_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test> → target/<profile>/imprint
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let bin = profile_dir.join("imprint");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build -p imprint), or set IMPRINT_BIN",
        bin.display()
    );
    bin
}

/// The Python with the contract test's packages: `IMPRINT_PYTHON`, else `python3`.
pub fn python() -> PathBuf {
    PathBuf::from(std::env::var("IMPRINT_PYTHON").unwrap_or_else(|_| "python3".to_owned()))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `imprint serve`.
#[derive(Debug)]
pub struct Process {
    /// The child process.
    child: Child,
    /// Its gRPC address.
    pub grpc: SocketAddr,
    /// Its HTTP address.
    pub http: SocketAddr,
    /// What it printed to stdout, when captured.
    stdout: Option<std::sync::Arc<tokio::sync::Mutex<String>>>,
}

impl Process {
    /// Starts `imprint serve` with `args` and `env` on fresh ports, and waits until `/readyz`
    /// answers 200.
    pub async fn serve(args: &[&str], env: &[(&str, String)]) -> Self {
        Self::serve_on(free_port(), args, env).await
    }

    /// As [`serve`](Self::serve), with gRPC on `grpc_port` (for peers that must know it first).
    pub async fn serve_on(grpc_port: u16, args: &[&str], env: &[(&str, String)]) -> Self {
        Self::start(grpc_port, args, env, false).await
    }

    /// As [`serve`](Self::serve), keeping what the process prints to stdout.
    pub async fn serve_capturing(args: &[&str], env: &[(&str, String)]) -> Self {
        Self::start(free_port(), args, env, true).await
    }

    async fn start(grpc_port: u16, args: &[&str], env: &[(&str, String)], capture: bool) -> Self {
        let grpc: SocketAddr = format!("127.0.0.1:{grpc_port}").parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut command = Command::new(imprint_binary());
        command
            .arg("serve")
            .args(args)
            .env("IMPRINT__SERVER__GRPC_ADDR", grpc.to_string())
            .env("IMPRINT__SERVER__HTTP_ADDR", http.to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        if capture {
            command.stdout(Stdio::piped());
        }
        let mut child = command.spawn().expect("imprint starts");
        let stdout = child.stdout.take().map(|out| {
            let buffer = std::sync::Arc::new(tokio::sync::Mutex::new(String::new()));
            let sink = std::sync::Arc::clone(&buffer);
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut lines = tokio::io::BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut sink = sink.lock().await;
                    sink.push_str(&line);
                    sink.push('\n');
                }
            });
            buffer
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = imprint_testkit::http_get(http, "/readyz").await {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("imprint exited at start with {status}");
            }
            assert!(Instant::now() < deadline, "imprint not ready within 60s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            child,
            grpc,
            http,
            stdout,
        }
    }

    /// Waits (at most 30 s) until the captured stdout contains `needle`, and returns it all.
    pub async fn wait_for_stdout(&self, needle: &str) -> String {
        let buffer = self.stdout.as_ref().expect("stdout captured");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = buffer.lock().await.clone();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no '{needle}' in stdout:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The gRPC URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// A channel to the gRPC listener.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.url())
            .unwrap()
            .timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connects")
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit (at most 60 s) and returns its exit code.
    pub async fn wait(mut self) -> Option<i32> {
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("exits within 60s")
            .expect("wait works")
            .code()
    }
}
