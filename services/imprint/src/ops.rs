//! Operators' commands for events: look at and requeue dead letters, and republish the current
//! state of a service's data for a consumer that needs the past.

use chrono::{DateTime, Utc};
use imprint_events::rabbit::{self, RabbitSettings};
use imprint_events::topology;
use imprint_platform::Settings;
use imprint_platform::settings::ServiceKey;

use crate::app::{self, AppError, ProcessRole};

fn rabbit(settings: &Settings) -> Result<RabbitSettings, AppError> {
    imprint_runtime::events::rabbit_settings(settings, "imprint-events-cli").ok_or_else(|| {
        AppError::Config(
            "amqp.url is not set: dead letters live in RabbitMQ (IMPRINT__AMQP__URL)".to_owned(),
        )
    })
}

/// The consuming services named by `service` (all when `None`), refusing unknown names.
fn services(service: Option<&str>) -> Result<Vec<&'static str>, AppError> {
    let all: Vec<&'static str> = topology::CONSUMERS.iter().map(|c| c.service).collect();
    match service {
        None => Ok(all),
        Some(name) => all
            .iter()
            .find(|s| **s == name)
            .map(|s| vec![*s])
            .ok_or_else(|| {
                AppError::Config(format!(
                    "--service: '{name}' consumes no events; use one of {}",
                    all.join(", ")
                ))
            }),
    }
}

/// Prints up to `limit` dead letters per consuming service.
#[allow(clippy::print_stdout)] // The command's output.
pub async fn list_dead_letters(
    settings: &Settings,
    service: Option<&str>,
    limit: usize,
) -> Result<(), AppError> {
    let rabbit = rabbit(settings)?;
    let mut total = 0;
    for service in services(service)? {
        let letters = rabbit::dead_letters(&rabbit, service, limit).await?;
        for l in &letters {
            println!(
                "{service}\t{}\t{}\t{}",
                l.message_id, l.routing_key, l.reason
            );
        }
        total += letters.len();
    }
    println!("{total} dead letter(s)");
    Ok(())
}

/// Moves the dead letters of each consuming service back to `imprint.events`.
#[allow(clippy::print_stdout)] // The command's output.
pub async fn requeue_dead_letters(
    settings: &Settings,
    service: Option<&str>,
) -> Result<(), AppError> {
    let rabbit = rabbit(settings)?;
    for service in services(service)? {
        let moved = rabbit::requeue_dead_letters(&rabbit, service).await?;
        println!("{service}: requeued {moved} dead letter(s)");
    }
    Ok(())
}

/// Writes the current state of everything saved since `since` to the outboxes of `role`.
#[allow(clippy::print_stdout)] // The command's output.
pub async fn republish(
    settings: &Settings,
    role: ProcessRole,
    since: DateTime<Utc>,
) -> Result<(), AppError> {
    if role.runs(ServiceKey::Papers) {
        let db = app::open_service(&imprint_papers::COMPONENT, settings, false).await?;
        let n = imprint_papers::republish_since(db.clone(), since).await?;
        db.close().await;
        println!("papers: {n} event(s) written to the outbox");
    }
    if role.runs(ServiceKey::Authors) {
        let db = app::open_service(&imprint_authors::COMPONENT, settings, false).await?;
        let n = imprint_authors::republish_since(db.clone(), since).await?;
        db.close().await;
        println!("authors: {n} event(s) written to the outbox");
    }
    Ok(())
}
