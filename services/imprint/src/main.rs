//! `imprint`: serves any role, migrates databases, loads the demo content.

use std::process::ExitCode;

use clap::Parser;
use imprint::app::{self, Application};
use imprint::cli::{Cli, Command, DeadLettersCommand, EventsCommand};
use imprint::{demo, ops};
use imprint_platform::auth::Role;
use imprint_platform::{Settings, server, telemetry};
use tokio_util::sync::CancellationToken;

/// mimalloc rather than glibc's malloc: the services allocate and free many small buffers per
/// request (messages, headers, JSON), where glibc's allocator took a sixth of the CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::ReadPdfText) {
        // A child of the server: no settings, no runtime, nothing but the reading.
        return match imprint_files::text::serve_reader() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("imprint: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    // Variables that are not valid Unicode cannot be Imprint settings; skip them.
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let settings = match Settings::load(cli.config.as_deref(), env, &cli.overrides()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("imprint: {e}");
            return ExitCode::from(2);
        }
    };
    let service = match &cli.command {
        Command::Serve(args) => format!("imprint-{}", args.role.name()),
        _ => "imprint".to_owned(),
    };
    let telemetry = match telemetry::init(&settings.log, &settings.tracing, &service) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("imprint: configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(endpoint) = telemetry.endpoint() {
        tracing::info!(endpoint, service, "exporting traces over OTLP");
    }
    let outcome = match cli.command {
        Command::Serve(args) => serve(settings, args.role, args.demo).await,
        Command::Migrate(args) => app::migrate(&settings, args.role).await,
        Command::Eval(args) => imprint::eval::run(&args).await.map_err(app::AppError::from),
        Command::Import(args) => import(&args).await.map_err(app::AppError::from),
        Command::Keys(args) => imprint::keys_command::run(&args)
            .await
            .map_err(app::AppError::from),
        Command::ReadPdfText => Ok(()),
        Command::Events { command } => match command {
            EventsCommand::DeadLetters { command } => match command {
                DeadLettersCommand::List { service, limit } => {
                    ops::list_dead_letters(&settings, service.as_deref(), limit).await
                }
                DeadLettersCommand::Requeue { service } => {
                    ops::requeue_dead_letters(&settings, service.as_deref()).await
                }
            },
            EventsCommand::Republish { role, since, .. } => {
                ops::republish(&settings, role, since).await
            }
        },
    };
    telemetry.shutdown().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "imprint failed");
            eprintln!("imprint: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `imprint import`: runs the import and prints what it did.
#[allow(clippy::print_stdout)] // The report.
async fn import(args: &imprint::cli::ImportArgs) -> Result<(), imprint::import::ImportError> {
    let summary = imprint::import::run(&imprint::import::Options {
        file: args.file.clone(),
        server: args.server.clone(),
        token: args.token.clone(),
        batch: args.batch,
        files_url: args.files_url.clone(),
        progress: !args.no_progress,
    })
    .await?;
    println!(
        "imported {} papers ({} authors created), {} already there, {} rejected, of {} records in {:.1}s",
        summary.imported,
        summary.authors_created,
        summary.existing,
        summary.rejected.len(),
        summary.records,
        summary.elapsed.as_secs_f64()
    );
    if summary.files_uploaded > 0 {
        println!("{} files uploaded", summary.files_uploaded);
    }
    if summary.repaired > 0 {
        println!(
            "{} records had Windows-1252 punctuation as control characters, put right",
            summary.repaired
        );
    }
    Ok(())
}

/// Tokens for a demo run, signed with the configured HS256 secret, or with a random one made
/// for this run (issuer and audience `imprint-demo` unless configured).
fn demo_tokens(settings: &mut Settings) -> Result<demo::Tokens, demo::DemoError> {
    let jwt = &mut settings.auth.jwt;
    jwt.hs256_secret.get_or_insert_with(|| {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    });
    for value in [&mut jwt.issuer, &mut jwt.audience] {
        value.get_or_insert_with(|| "imprint-demo".to_owned());
    }
    let editor_hours = 12;
    let issue = |subject: &str, role: Role, hours: u64| {
        imprint_gateway::access::issue_hs256(
            &settings.auth.jwt,
            subject,
            role,
            std::time::Duration::from_secs(hours * 3600),
        )
    };
    Ok(demo::Tokens {
        // It publishes, and makes the demo's programs and regions: an admin's call.
        loader: issue("demo-loader", Role::Admin, 1)?,
        editor: issue("demo-editor", Role::Editor, editor_hours)?,
        editor_hours,
    })
}

async fn serve(
    mut settings: Settings,
    role: app::ProcessRole,
    load_demo: bool,
) -> Result<(), app::AppError> {
    if load_demo && role != app::ProcessRole::All {
        return Err(app::AppError::Config(
            "--demo needs --role all: the demo loads papers and authors together".to_owned(),
        ));
    }
    // PDFs are read in children of this binary, so that a hostile one cannot crash the server.
    match std::env::current_exe() {
        Ok(exe) => imprint_files::text::read_in_child_processes(exe),
        Err(e) => tracing::warn!(error = %e, "cannot name this binary: PDFs are read in process"),
    }
    let tokens = if load_demo {
        Some(demo_tokens(&mut settings)?)
    } else {
        None
    };
    let application = Application::build(settings, role).await?;
    let shutdown = CancellationToken::new();
    server::cancel_on_signals(shutdown.clone());
    let demo = tokens.map(|tokens| {
        let grpc = application.grpc_addr();
        let http = application.http_addr();
        let public = application.public_addr();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let loaded = demo::load_and_announce(grpc, http, public, &tokens).await;
            if loaded.is_err() {
                // Nothing to show: stop rather than serve an empty demo.
                stop.cancel();
            }
            loaded
        })
    });
    application.run_until_stopped(shutdown).await?;
    match demo {
        Some(task) if task.is_finished() => match task.await {
            Ok(Err(e)) => Err(app::AppError::Demo(e)),
            Err(e) => Err(app::AppError::Demo(e.into())),
            Ok(Ok(())) => Ok(()),
        },
        Some(task) => {
            task.abort();
            Ok(())
        }
        None => Ok(()),
    }
}
