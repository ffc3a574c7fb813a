//! Logs in the form Terraform reads from a provider's stderr, and panics in
//! the form its crash report recognises.
//!
//! Terraform (through go-plugin) reads the plugin's stderr line by line. A line
//! that is a JSON object with `@level`, `@message` and `@timestamp` (go-plugin's
//! hclog form) is filed at that level and its other keys are shown as
//! `key=value`; any other line is filed as `[DEBUG]`, which hides warnings under
//! `TF_LOG=warn`. Terraform filters the lines again at the level it was asked
//! for, so the provider writes only what that level shows.
//!
//! Every entry is one line in Terraform's log too, with its fields in one
//! order: go-plugin reads the JSON keys into a Go map and shows them in that
//! map's random order, and prints a value with line breaks (a TLS library's
//! pretty-printed handshake) as an indented block of lines without time or
//! level. So the provider writes exactly `@level`, `@message`, `@module` and
//! `@timestamp`, the event's fields inside `@message` as `key=value` in the
//! order the code names them, and every text on one line. Records of the `log`
//! crate (rustls, for one) are filed under their own target as `@module`.
//!
//! A Go plugin that panics prints `panic: ...` and a stack trace and exits;
//! Terraform recognises the `panic: ` line, keeps what follows and prints it as
//! "The ... plugin crashed!" when the command fails. [`report_panics_as_go_does`]
//! gives Rust panics the same form.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Where Terraform's users set the provider's log level, most specific first
/// (the same order as HashiCorp's plugin SDKs: the provider by name, every
/// provider, everything).
pub const LEVEL_VARIABLES: [&str; 3] = ["TF_LOG_PROVIDER_PRODVPC", "TF_LOG_PROVIDER", "TF_LOG"];

/// This crate's tracing targets: the library and the binary.
const OWN_TARGETS: [&str; 2] = ["prodvpc", "terraform_provider_prodvpc"];

/// The level asked for through [`LEVEL_VARIABLES`], read through `var`.
///
/// Mirrors Terraform's own parsing, so both ends agree on what is shown: the
/// first variable that is set wins, case does not matter, `JSON` means
/// `TRACE`, `OFF` or no variable means nothing, and an unknown word means
/// `TRACE` (Terraform warns about it and falls back to `TRACE` too).
pub fn requested_level(var: impl Fn(&str) -> Option<String>) -> LevelFilter {
    let Some(text) = LEVEL_VARIABLES
        .iter()
        .find_map(|name| var(name).filter(|value| !value.trim().is_empty()))
    else {
        return LevelFilter::OFF;
    };
    match text.trim().to_ascii_uppercase().as_str() {
        "OFF" => LevelFilter::OFF,
        "ERROR" => LevelFilter::ERROR,
        "WARN" => LevelFilter::WARN,
        "INFO" => LevelFilter::INFO,
        "DEBUG" => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// What reaches stderr at `level`: the provider's own lines at that level;
/// other libraries' (the AWS SDK, HTTP/2, TLS, gRPC) warnings and errors at
/// any level, and their internals only at `TRACE`.
pub fn targets(level: LevelFilter) -> Targets {
    let libraries = if level == LevelFilter::TRACE {
        LevelFilter::TRACE
    } else {
        level.min(LevelFilter::WARN)
    };
    OWN_TARGETS
        .iter()
        .fold(Targets::new().with_default(libraries), |targets, own| {
            targets.with_target(*own, level)
        })
}

/// Installs the stderr logger at the level Terraform asks for (see
/// [`requested_level`]). Writes nothing when no level is set.
pub fn init_from_environment() {
    let level = requested_level(|name| std::env::var(name).ok());
    if level == LevelFilter::OFF {
        return;
    }
    let _ = tracing_subscriber::registry()
        .with(TerraformJsonLayer::new(std::io::stderr).with_filter(targets(level)))
        .try_init();
}

/// Formats each event as one hclog JSON line and writes it with one write.
pub struct TerraformJsonLayer<W> {
    make_writer: W,
}

impl<W> TerraformJsonLayer<W> {
    pub fn new(make_writer: W) -> Self {
        TerraformJsonLayer { make_writer }
    }
}

impl<S, W> Layer<S> for TerraformJsonLayer<W>
where
    S: Subscriber,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let line = hclog_line(
            *metadata.level(),
            metadata.target(),
            fields.0,
            SystemTime::now(),
        );
        // one write per line: concurrent tasks never interleave inside a line
        let _ = self.make_writer.make_writer().write_all(line.as_bytes());
    }
}

/// One go-plugin log line: `@level`, `@message` (the event's message, then its
/// fields as `key=value` in the order given), `@module` and `@timestamp`
/// (microseconds, as go-plugin parses it); see the module docs for why.
pub fn hclog_line(
    level: Level,
    target: &str,
    fields: Vec<(String, Value)>,
    at: SystemTime,
) -> String {
    let mut message = String::new();
    let mut module = target.to_string();
    let mut pairs = Vec::new();
    for (key, value) in fields {
        match key.as_str() {
            "message" => message = one_line(&plain(&value)),
            // a `log` crate record: its own target, not the bridge's
            "log.target" => module = plain(&value),
            "log.module_path" | "log.file" | "log.line" => {}
            _ => pairs.push(format!("{key}={}", quoted(&value))),
        }
    }
    if !pairs.is_empty() {
        if !message.is_empty() {
            message.push(' ');
        }
        message.push_str(&pairs.join(" "));
    }
    // serde_json writes an object's keys in name order: these four, always
    let line = serde_json::json!({
        "@level": hclog_level(level),
        "@message": message,
        "@module": module.replace("::", "."),
        "@timestamp": timestamp(at),
    });
    let mut line = line.to_string();
    line.push('\n');
    line
}

/// A value as text: strings without their JSON quotes.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Text on one line: line breaks and the indentation after them (a
/// pretty-printed `Debug`) become one space.
fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r']) {
        return text.to_string();
    }
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A field's value as `key=` shows it: quoted, as hclog does, when it is empty
/// or holds spaces, quotes or `=`, so the pairs of a line can be told apart.
fn quoted(value: &Value) -> String {
    let text = one_line(&plain(value));
    if text.is_empty() || text.contains([' ', '"', '=']) {
        Value::String(text).to_string()
    } else {
        text
    }
}

fn hclog_level(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// RFC 3339 in UTC with exactly six fractional digits: go-plugin parses
/// `2006-01-02T15:04:05.000000Z07:00` and files a line it cannot parse as
/// plain `[DEBUG]` text.
pub fn timestamp(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        since_epoch.subsec_micros()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// An event's fields as JSON values (numbers and booleans stay typed), in the
/// order the event names them.
#[derive(Default)]
struct JsonFields(Vec<(String, Value)>);

impl JsonFields {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.push((field.name().to_string(), value));
    }
}

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}

/// Makes a panic print `panic: <message>` with its location and a backtrace
/// as plain text on stderr, then exit with status 2, as a Go plugin does.
///
/// The process ends instead of letting the runtime catch the panic in one
/// task: a half-finished request would otherwise leave the connection, and
/// the state Terraform is about to record, in doubt. Terraform reports the
/// failed call and prints the lines from `panic: ` on as the plugin's crash.
pub fn report_panics_as_go_does() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a panic without a message)".to_string());
        let location = info
            .location()
            .map(|at| format!("{}:{}:{}", at.file(), at.line(), at.column()))
            .unwrap_or_else(|| "an unknown location".to_string());
        let thread = std::thread::current();
        let report = panic_report(
            &message,
            &location,
            thread.name().unwrap_or("unnamed"),
            &std::backtrace::Backtrace::force_capture().to_string(),
        );
        let _ = std::io::stderr().lock().write_all(report.as_bytes());
        std::process::exit(2);
    }));
}

/// The crash text: Terraform starts recording at the `panic: ` line.
pub fn panic_report(message: &str, location: &str, thread: &str, backtrace: &str) -> String {
    format!(
        "panic: {message}\n\nthread '{thread}' panicked at {location}\n{}\n",
        backtrace.trim_end()
    )
}

#[cfg(test)]
pub(crate) mod capture {
    //! Log lines captured in memory, for tests of what the provider logs.

    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::{targets, TerraformJsonLayer};

    #[derive(Clone, Default)]
    pub struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Lines {
        /// Every line written so far, parsed.
        pub fn json(&self) -> Vec<serde_json::Value> {
            let bytes = self.0.lock().unwrap().clone();
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).expect("a JSON line"))
                .collect()
        }
    }

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Logs at `level` into the returned lines while the guard lives (this thread only).
    pub fn at(
        level: tracing::level_filters::LevelFilter,
    ) -> (tracing::subscriber::DefaultGuard, Lines) {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber =
            tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(
                TerraformJsonLayer::new(move || writer.clone()),
                targets(level),
            ));
        let guard = tracing::subscriber::set_default(subscriber);
        // a callsite first reached by another test's thread, while no subscriber
        // listened, is cached as uninteresting: ask every callsite again
        tracing::callsite::rebuild_interest_cache();
        (guard, lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    fn level_from(pairs: &[(&str, &str)]) -> LevelFilter {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        requested_level(|name| vars.get(name).cloned())
    }

    #[test]
    fn level_follows_terraforms_variables_most_specific_first() {
        assert_eq!(level_from(&[]), LevelFilter::OFF);
        assert_eq!(level_from(&[("TF_LOG", "warn")]), LevelFilter::WARN);
        assert_eq!(
            level_from(&[("TF_LOG", "warn"), ("TF_LOG_PROVIDER", "Debug")]),
            LevelFilter::DEBUG
        );
        assert_eq!(
            level_from(&[
                ("TF_LOG", "warn"),
                ("TF_LOG_PROVIDER", "debug"),
                ("TF_LOG_PROVIDER_PRODVPC", "ERROR")
            ]),
            LevelFilter::ERROR
        );
        assert_eq!(
            level_from(&[("TF_LOG_PROVIDER", ""), ("TF_LOG", "info")]),
            LevelFilter::INFO
        );
    }

    #[test]
    fn level_words_are_terraforms() {
        for (word, level) in [
            ("TRACE", LevelFilter::TRACE),
            ("json", LevelFilter::TRACE),
            ("Off", LevelFilter::OFF),
            ("error", LevelFilter::ERROR),
            (" info ", LevelFilter::INFO),
            ("verbose", LevelFilter::TRACE),
        ] {
            assert_eq!(level_from(&[("TF_LOG", word)]), level, "{word}");
        }
    }

    #[test]
    fn library_internals_only_at_trace() {
        let debug = targets(LevelFilter::DEBUG);
        assert!(debug.would_enable("prodvpc::aws", &Level::DEBUG));
        assert!(!debug.would_enable("h2::codec", &Level::DEBUG));
        assert!(!debug.would_enable("aws_smithy_runtime::client", &Level::INFO));
        assert!(debug.would_enable("rustls::conn", &Level::WARN));
        let trace = targets(LevelFilter::TRACE);
        assert!(trace.would_enable("h2::codec", &Level::TRACE));
        let warn = targets(LevelFilter::WARN);
        assert!(!warn.would_enable("prodvpc::apply", &Level::INFO));
        assert!(warn.would_enable("prodvpc::environment", &Level::WARN));
    }

    #[test]
    fn timestamps_are_utc_with_microseconds() {
        let at = UNIX_EPOCH + Duration::from_micros(1_795_687_200_123_456);
        assert_eq!(timestamp(at), "2026-11-26T10:00:00.123456Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        // a leap day and the last second of a year
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000000Z");
        let new_year_eve = UNIX_EPOCH + Duration::from_secs(1_704_067_199);
        assert_eq!(timestamp(new_year_eve), "2023-12-31T23:59:59.000000Z");
    }

    #[test]
    fn events_become_hclog_lines() {
        let (_guard, lines) = capture::at(LevelFilter::DEBUG);
        tracing::debug!(target: "prodvpc::aws", attempts = 2u32, operation = "CreateVpc", object = "component=vpc", "aws call");
        tracing::trace!(target: "prodvpc::aws", "not at debug");
        tracing::debug!(target: "h2::proto", "an HTTP/2 frame");
        let lines = lines.json();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["@level", "@message", "@module", "@timestamp"]);
        assert_eq!(line["@level"], "debug");
        // the fields in the order the event names them
        assert_eq!(
            line["@message"],
            "aws call attempts=2 operation=CreateVpc object=\"component=vpc\""
        );
        assert_eq!(line["@module"], "prodvpc.aws");
        let stamp = line["@timestamp"].as_str().unwrap();
        assert_eq!(stamp.len(), "2026-11-26T10:00:00.123456Z".len(), "{stamp}");
    }

    #[test]
    fn a_pretty_printed_dump_becomes_one_line() {
        let dump = format!("{:#?}", vec![("server_name", Some("localhost"))]);
        assert!(dump.lines().count() > 3, "{dump}");
        let fields = vec![
            (
                "message".to_string(),
                Value::String(format!("hello {dump}")),
            ),
            ("state".to_string(), Value::String("a\nb".into())),
            ("empty".to_string(), Value::String(String::new())),
            (
                "log.target".to_string(),
                Value::String("rustls::server::hs".into()),
            ),
            ("log.line".to_string(), Value::from(718)),
        ];
        let line = hclog_line(Level::TRACE, "log", fields, UNIX_EPOCH);
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let json: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            json["@message"],
            "hello [ ( \"server_name\", Some( \"localhost\", ), ), ] state=\"a b\" empty=\"\""
        );
        assert_eq!(json["@module"], "rustls.server.hs");
    }

    #[test]
    fn a_panic_report_starts_with_gos_header() {
        let report = panic_report("boom", "src/x.rs:1:2", "tokio-runtime-worker", "   0: f\n");
        assert!(report.starts_with("panic: boom\n"), "{report}");
        assert!(report.contains("panicked at src/x.rs:1:2"), "{report}");
        assert!(report.contains("0: f"), "{report}");
    }

    /// The hook itself, in a child process: it prints Go's form and exits 2.
    #[test]
    fn a_panic_prints_gos_form_and_ends_the_process() {
        const CHILD: &str = "PRODVPC_PANIC_HOOK_CHILD";
        if std::env::var_os(CHILD).is_some() {
            report_panics_as_go_does();
            panic!("the child panics on purpose");
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "logging::tests::a_panic_prints_gos_form_and_ends_the_process",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let report = stderr
            .find("panic: ")
            .map(|at| &stderr[at..])
            .unwrap_or_else(|| panic!("no panic line in:\n{stderr}"));
        assert!(
            report.starts_with("panic: the child panics on purpose\n"),
            "{stderr}"
        );
        assert!(report.contains("src/logging.rs:"), "{stderr}");
    }
}
