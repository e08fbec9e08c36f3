//! `imprint keys create|list|revoke`: partner keys through the gateway's
//! `imprint.gateway.v1.PartnerKeyService`, as an admin.

use imprint_proto::gateway::partner_key_service_client::PartnerKeyServiceClient;
use imprint_proto::gateway::{
    CreatePartnerKeyRequest, ListPartnerKeysRequest, PartnerKey, RevokePartnerKeyRequest,
};

use crate::cli::{KeysArgs, KeysCommand};
use crate::command::{CallFailed, failed};

/// Why a keys command failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// `--server` or the token cannot make a link.
    #[error(transparent)]
    Link(#[from] imprint_platform::clients::LinkError),
    /// The gateway refused or failed the call.
    #[error(transparent)]
    Call(#[from] CallFailed),
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
pub async fn run(args: &KeysArgs) -> Result<(), KeysError> {
    let channel = imprint_platform::clients::peer(&args.server, 10_000, args.token.as_deref())?;
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
                .map_err(failed("creating the key"))?
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
                .map_err(failed("listing keys"))?
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
                .map_err(failed("revoking the key"))?
                .into_inner();
            if let Some(k) = &revoked.partner_key {
                println!("{}", line(k));
            }
        }
    }
    Ok(())
}
