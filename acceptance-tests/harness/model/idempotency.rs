//! ClientToken: AWS answers a repeated EC2 create that carries the same token
//! with the object the first call made (and refuses the token with different
//! parameters); moto ignores the token and creates a second object.

use std::collections::HashMap;

use super::{Call, Refusal, Verdict};

/// `Action ClientToken`, when the call carries a token.
fn token_key(call: &Call) -> Option<String> {
    if call.service != "ec2" {
        return None;
    }
    let token = call.param("ClientToken").filter(|t| !t.is_empty())?;
    Some(format!("{} {token}", call.action))
}

/// The call's parameters other than its token, to tell a repeat from a misuse.
fn fingerprint(call: &Call) -> String {
    let mut params: Vec<String> = call
        .params
        .iter()
        .filter(|(name, _)| name != "ClientToken")
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    params.sort();
    params.join("&")
}

/// The first answer again for a repeated token.
pub fn replay(tokens: &HashMap<String, (String, String)>, call: &Call) -> Option<Verdict> {
    let (first, answer) = tokens.get(&token_key(call)?)?;
    Some(if *first == fingerprint(call) {
        Verdict::Replay(answer.clone())
    } else {
        Verdict::Refuse(Refusal::new(
            400,
            "IdempotentParameterMismatch",
            "The client token was already used with different parameters.",
        ))
    })
}

/// Remembers the answer to a successful call that carried a token.
pub fn remember(tokens: &mut HashMap<String, (String, String)>, call: &Call, answer: &str) {
    if let Some(key) = token_key(call) {
        tokens
            .entry(key)
            .or_insert_with(|| (fingerprint(call), answer.to_string()));
    }
}
