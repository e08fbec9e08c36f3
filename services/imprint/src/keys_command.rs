//! `imprint keys create|list|revoke`: partner keys through the gateway's
//! `imprint.gateway.v1.PartnerKeyService`, as an admin.

use imprint_proto::gateway::partner_key_service_client::PartnerKeyServiceClient;
use imprint_proto::gateway::{
    CreatePartnerKeyRequest, ListPartnerKeysRequest, PartnerKey, RevokePartnerKeyRequest,
};
use tonic::Code;

use crate::cli::{KeysArgs, KeysCommand};

/// A failed call, with what to do about it.
fn failed(what: &str, status: &tonic::Status) -> String {
    let hint = match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => {
            "; pass an admin's token with --token or IMPRINT_TOKEN"
        }
        Code::Unavailable => "; is the server running at --server?",
        _ => "",
    };
    let fields = imprint_proto::status::field_violations(status)
        .into_iter()
        .map(|(f, d)| format!("{f}: {d}"))
        .collect::<Vec<_>>();
    if fields.is_empty() {
        format!("{what}: {}{hint}", status.message())
    } else {
        format!("{what}: {}{hint}", fields.join("; "))
    }
}

fn line(k: &PartnerKey) -> String {
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
    };
    format!(
        "{}  {}…  {}  {}/min  {}  created {}{}",
        k.id,
        k.key_prefix,
        k.partner,
        k.requests_per_minute,
        k.allowed_origins.join(","),
        time(&k.create_time).unwrap_or_default(),
        time(&k.revoke_time)
            .map(|t| format!("  REVOKED {t}"))
            .unwrap_or_default()
    )
}

/// Runs one `imprint keys` command, printing what it did.
#[allow(clippy::print_stdout)] // The command's output.
pub async fn run(args: &KeysArgs) -> Result<(), String> {
    let channel = imprint_platform::clients::peer(&args.server, 10_000, args.token.as_deref())
        .map_err(|e| e.to_string())?;
    let mut client = PartnerKeyServiceClient::new(channel);
    match &args.command {
        KeysCommand::Create {
            partner,
            origins,
            rate,
        } => {
            let created = client
                .create_partner_key(CreatePartnerKeyRequest {
                    partner: partner.clone(),
                    allowed_origins: origins.clone(),
                    requests_per_minute: *rate,
                })
                .await
                .map_err(|s| failed("creating the key", &s))?
                .into_inner();
            if let Some(k) = &created.partner_key {
                println!("{}", line(k));
            }
            println!("key: {}", created.key);
            println!("(shown this once; it is stored hashed)");
        }
        KeysCommand::List { all } => {
            let keys = client
                .list_partner_keys(ListPartnerKeysRequest {
                    include_revoked: *all,
                })
                .await
                .map_err(|s| failed("listing keys", &s))?
                .into_inner()
                .partner_keys;
            for k in &keys {
                println!("{}", line(k));
            }
            println!("{} key(s)", keys.len());
        }
        KeysCommand::Revoke { id } => {
            let revoked = client
                .revoke_partner_key(RevokePartnerKeyRequest { id: id.clone() })
                .await
                .map_err(|s| failed("revoking the key", &s))?
                .into_inner();
            if let Some(k) = &revoked.partner_key {
                println!("{}", line(k));
            }
        }
    }
    Ok(())
}
