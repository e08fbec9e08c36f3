//! Links from a service to the others: over the network to the role that runs one elsewhere
//! (its `<service>.url`), or in process to this very process's own services when it runs them
//! ([`imprint_platform::clients::Local`]), through the same interceptor either way.

use imprint_platform::clients::{self, Local, Peer};
use imprint_platform::settings::{ServiceKey, Settings};
use tonic::transport::Channel;

use crate::component::OpenError;

/// How the services of one process reach the others.
#[derive(Debug, Clone)]
pub struct Peers {
    /// Where each service with a settings section is, when configured.
    urls: Vec<(ServiceKey, Option<String>, u64)>,
    /// The services this process runs.
    here: Vec<ServiceKey>,
    /// The process's own services, without a network.
    local: Local,
    /// The token of this process's calls to its own services, at an edge (where every call is
    /// authenticated); `None` where calls come only from the cluster network.
    token: Option<String>,
    /// The role, for messages.
    role: &'static str,
}

impl Peers {
    /// Links for a process of `role` running `here`, calling its own services through `local`
    /// with `token`.
    pub fn new(
        settings: &Settings,
        role: &'static str,
        here: &[ServiceKey],
        local: Local,
        token: Option<String>,
    ) -> Self {
        let urls = ServiceKey::ALL
            .into_iter()
            .filter_map(|key| {
                settings
                    .service(key)
                    .map(|s| (key, s.url.clone(), s.timeout_ms))
            })
            .collect();
        Self {
            urls,
            here: here.to_vec(),
            local,
            token,
            role,
        }
    }

    /// Whether this process runs `service`.
    pub fn runs_here(&self, service: ServiceKey) -> bool {
        self.here.contains(&service)
    }

    /// A link to `service`: to its configured URL, else to this process when it runs it;
    /// without either, the setting to set.
    pub fn link(&self, service: ServiceKey) -> Result<Peer, OpenError> {
        Ok(match self.url(service)? {
            (Some(url), timeout_ms) => clients::peer(url, timeout_ms, None)?,
            (None, timeout_ms) => clients::local(&self.local, timeout_ms, self.token.as_deref())?,
        })
    }

    /// A channel to the role that runs `service` elsewhere, for forwarding its calls unchanged:
    /// its URL is required.
    pub fn remote(&self, service: ServiceKey) -> Result<Channel, OpenError> {
        match self.url(service)? {
            (Some(url), timeout_ms) => Ok(clients::channel(url, timeout_ms)?),
            (None, _) => Err(OpenError::Config(format!(
                "{service}.url is required with --role {}: the address of the {service} service, e.g. http://{service}:50051",
                self.role
            ))),
        }
    }

    /// The configured URL of `service` (`None` when it runs here unconfigured) and the
    /// deadline of calls to it.
    fn url(&self, service: ServiceKey) -> Result<(Option<&str>, u64), OpenError> {
        let Some((_, url, timeout_ms)) = self.urls.iter().find(|(key, _, _)| *key == service)
        else {
            return Err(OpenError::Config(format!(
                "{service} is not a service other services call"
            )));
        };
        match url {
            Some(url) => Ok((Some(url.as_str()), *timeout_ms)),
            None if self.runs_here(service) => Ok((None, *timeout_ms)),
            None => Err(OpenError::Config(format!(
                "{service}.url is required with --role {}: the address of the {service} service, e.g. http://{service}:50051",
                self.role
            ))),
        }
    }
}
