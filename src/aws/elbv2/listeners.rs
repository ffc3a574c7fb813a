//! The load balancer's listeners: their default actions, TLS, rules and
//! extra certificates.

use super::*;

/// A listener and what its default action does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listener {
    pub arn: String,
    pub port: i32,
    pub protocol: String,
    /// `forward` or `redirect`
    pub action: String,
    pub target_group: Option<String>,
    /// the default certificate of an HTTPS listener
    pub certificate: Option<String>,
    /// where a redirect goes, as `STATUS PROTOCOL://HOST:PORT/PATH?QUERY`
    /// with AWS's placeholders for the parts kept from the request
    pub redirect: Option<String>,
    /// the security policy (meaningful on HTTPS only: some endpoints report one on HTTP too)
    pub ssl_policy: Option<String>,
}

/// How the provider's redirect reads in [`Listener::redirect`]: to HTTPS on
/// 443, keeping the request's host, path and query.
pub const REDIRECT_TO_HTTPS: &str = "HTTP_301 HTTPS://#{host}:443/#{path}?#{query}";

/// A redirect in the words of [`Listener::redirect`]. A part not given is
/// kept from the request: AWS reports it as its placeholder (`#{host}`,
/// `/#{path}`, `#{query}`), which is what this fills in when an endpoint
/// leaves it out, so the same redirect always reads the same.
fn redirect_in_words(r: &RedirectActionConfig) -> String {
    let path = r.path().unwrap_or("/#{path}");
    format!(
        "{} {}://{}:{}{}?{}",
        r.status_code().map(|c| c.as_str()).unwrap_or_default(),
        r.protocol().unwrap_or("#{protocol}"),
        r.host().unwrap_or("#{host}"),
        r.port().unwrap_or("#{port}"),
        path,
        r.query().unwrap_or("#{query}"),
    )
}

/// A rule of a listener besides its default action: the environment's
/// listeners carry none, so every one is another's routing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerRule {
    pub arn: String,
    pub priority: String,
    /// what it matches and does, in words (`path-pattern /* -> redirect`)
    pub summary: String,
}

/// The rules of `listener` besides its default one; none for a listener that is gone.
pub async fn extra_rules(client: &Client, listener: &str) -> Result<Vec<ListenerRule>> {
    let out = match client.describe_rules().listener_arn(listener).send().await {
        Ok(out) => out,
        Err(e) => return AwsError::from_sdk("DescribeRules", e).or_gone(Vec::new()),
    };
    Ok(out
        .rules()
        .iter()
        .filter(|r| !r.is_default().unwrap_or(false))
        .map(|r| {
            let matches: Vec<String> = r
                .conditions()
                .iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        c.field().unwrap_or("condition"),
                        c.values().join(",")
                    )
                })
                .collect();
            let actions: Vec<&str> = r
                .actions()
                .iter()
                .filter_map(|a| a.r#type().map(|t| t.as_str()))
                .collect();
            ListenerRule {
                arn: r.rule_arn().unwrap_or_default().into(),
                priority: r.priority().unwrap_or_default().into(),
                summary: format!("{} -> {}", matches.join(" and "), actions.join(", ")),
            }
        })
        .collect())
}

pub async fn delete_rule(client: &Client, arn: &str) -> Result<()> {
    match client.delete_rule().rule_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e) => AwsError::from_sdk("DeleteRule", e).or_gone(()),
    }
}

/// The rules besides the default of each listener, by listener ARN.
pub async fn rules_of(
    client: &Client,
    listeners: &[String],
) -> Result<BTreeMap<String, Vec<ListenerRule>>> {
    let reads = listeners.iter().map(|arn| async move {
        extra_rules(client, arn)
            .await
            .map(|rules| (arn.clone(), rules))
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}

/// The certificates of each of `listeners` (HTTPS ones) besides its default
/// one, by listener ARN: what it serves to clients naming other hosts (SNI).
pub async fn extra_certificates_of(
    client: &Client,
    listeners: &[String],
) -> Result<BTreeMap<String, Vec<String>>> {
    let reads = listeners.iter().map(|arn| async move {
        let mut extra = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = client
                .describe_listener_certificates()
                .listener_arn(arn)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeListenerCertificates", e))?;
            extra.extend(
                out.certificates()
                    .iter()
                    .filter(|c| c.is_default() != Some(true))
                    .filter_map(|c| c.certificate_arn().map(str::to_string)),
            );
            match out.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                _ => return Ok::<_, AwsError>((arn.clone(), extra)),
            }
        }
    });
    Ok(futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect())
}

/// Takes `certificates` off `listener` (its default one stays).
pub async fn remove_certificates(
    client: &Client,
    listener: &str,
    certificates: &[String],
) -> Result<()> {
    let certificates = certificates
        .iter()
        .map(|arn| Certificate::builder().certificate_arn(arn).build())
        .collect();
    match client
        .remove_listener_certificates()
        .listener_arn(listener)
        .set_certificates(Some(certificates))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => AwsError::from_sdk("RemoveListenerCertificates", e).or_gone(()),
    }
}

/// The listeners of a load balancer just listed. AWS saying the load balancer
/// does not exist is propagation, not "no listeners" (which would plan them
/// anew): the not-found error is returned, for the caller to ask again.
pub async fn listeners(client: &Client, load_balancer: &str) -> Result<Vec<Listener>> {
    let out = match client
        .describe_listeners()
        .load_balancer_arn(load_balancer)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(AwsError::from_sdk("DescribeListeners", e)),
    };
    Ok(out
        .listeners()
        .iter()
        .map(|l| {
            let action = l.default_actions().first();
            Listener {
                arn: l.listener_arn().unwrap_or_default().into(),
                port: l.port().unwrap_or_default(),
                protocol: l
                    .protocol()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
                action: action
                    .and_then(|a| a.r#type())
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                target_group: action
                    .and_then(|a| a.target_group_arn())
                    .map(str::to_string),
                certificate: l
                    .certificates()
                    .first()
                    .and_then(|c| c.certificate_arn())
                    .map(str::to_string),
                ssl_policy: l.ssl_policy().map(str::to_string),
                redirect: action
                    .and_then(|a| a.redirect_config())
                    .map(redirect_in_words),
            }
        })
        .collect())
}

/// What a listener should do.
#[derive(Clone, Debug, PartialEq)]
pub enum ListenerAction {
    Forward(String),
    RedirectToHttps,
}

fn action(of: &ListenerAction) -> Action {
    match of {
        ListenerAction::Forward(tg) => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build(),
        ListenerAction::RedirectToHttps => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                // host, path and query written out, so a redirect changed
                // out of band is restored whole
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .host("#{host}")
                    .path("/#{path}")
                    .query("#{query}")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
    }
}

/// How a listener speaks: HTTPS with a certificate and a security policy, or plain HTTP.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tls<'a> {
    Off,
    On {
        certificate: &'a str,
        policy: &'a str,
    },
}

impl<'a> Tls<'a> {
    pub fn certificate(&self) -> Option<&'a str> {
        match self {
            Tls::Off => None,
            Tls::On { certificate, .. } => Some(certificate),
        }
    }

    pub fn policy(&self) -> Option<&'a str> {
        match self {
            Tls::Off => None,
            Tls::On { policy, .. } => Some(policy),
        }
    }
}

/// Creates an HTTP or HTTPS listener.
pub async fn create_listener(
    client: &Client,
    load_balancer: &str,
    port: u16,
    tls: Tls<'_>,
    what: &ListenerAction,
    tags: &BTreeMap<String, String>,
) -> Result<String> {
    let out = client
        .create_listener()
        .load_balancer_arn(load_balancer)
        .port(i32::from(port))
        .protocol(listener_protocol(tls.certificate()))
        .set_certificates(certificates(tls.certificate()))
        .set_ssl_policy(tls.policy().map(str::to_string))
        .default_actions(action(what))
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateListener", e))?;
    Ok(out
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .ok_or(AwsError::MissingField {
            operation: "CreateListener",
            field: "ListenerArn",
        })?
        .to_string())
}

/// HTTPS with a certificate, HTTP without.
pub fn listener_protocol(certificate: Option<&str>) -> ProtocolEnum {
    if certificate.is_some() {
        ProtocolEnum::Https
    } else {
        ProtocolEnum::Http
    }
}

fn certificates(certificate: Option<&str>) -> Option<Vec<Certificate>> {
    certificate.map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

/// Sets everything of a listener but its port: protocol, certificate, policy and action.
pub async fn modify_listener(
    client: &Client,
    arn: &str,
    tls: Tls<'_>,
    what: &ListenerAction,
) -> Result<()> {
    client
        .modify_listener()
        .listener_arn(arn)
        .protocol(listener_protocol(tls.certificate()))
        .set_certificates(certificates(tls.certificate()))
        .set_ssl_policy(tls.policy().map(str::to_string))
        .default_actions(action(what))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyListener", e))?;
    Ok(())
}

/// Sets the security policy of an HTTPS listener, and nothing else.
pub async fn set_ssl_policy(client: &Client, arn: &str, policy: &str) -> Result<()> {
    client
        .modify_listener()
        .listener_arn(arn)
        .ssl_policy(policy)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ModifyListener", e))?;
    Ok(())
}

pub async fn delete_listener(client: &Client, arn: &str) -> Result<()> {
    client
        .delete_listener()
        .listener_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DeleteListener", e))?;
    Ok(())
}
