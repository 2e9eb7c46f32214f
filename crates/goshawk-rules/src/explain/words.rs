//! Words for the pieces of a query: column names, literals, durations, comparisons.

use goshawk_kql_syntax::ast::{BinaryOp, DynamicValue, ListOp, Literal, LiteralKind};

/// Ticks (100 ns) per unit, largest first, for durations in words.
const TICK_UNITS: &[(i64, &str)] = &[
    (864_000_000_000, "day"),
    (36_000_000_000, "hour"),
    (600_000_000, "minute"),
    (10_000_000, "second"),
    (10_000, "millisecond"),
    (10, "microsecond"),
    (1, "tick"),
];

/// Longer than this, a literal or a piece of source text is cut so that one step stays readable.
const MAX_QUOTED_CHARS: usize = 120;

/// `ResultType` -> `result type`, `SPName` -> `SP name`, `Caller_IP` -> `caller IP`: the column
/// name as words, acronyms kept in capitals.
pub fn humanize(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for part in name.split(|c: char| c == '_' || c == '.' || c == '-' || c.is_whitespace()) {
        let chars: Vec<char> = part.chars().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (prev, cur) = (chars[i - 1], chars[i]);
            let next_is_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
            // A boundary before an upper-case letter that follows a lower-case one (resultType),
            // before the last capital of an acronym followed by a word (SPName), and between
            // letters and digits.
            let boundary = (prev.is_lowercase() && cur.is_uppercase())
                || (prev.is_uppercase() && cur.is_uppercase() && next_is_lower)
                || (prev.is_ascii_digit() != cur.is_ascii_digit() && prev.is_alphanumeric());
            if boundary {
                words.push(chars[start..i].iter().collect());
                start = i;
            }
        }
        if start < chars.len() {
            words.push(chars[start..].iter().collect());
        }
    }
    let words: Vec<String> = words
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(|word| {
            // A one-letter name (`A`) and acronyms (`IP`) keep their capitals.
            let is_acronym = word.chars().all(|c| !c.is_lowercase());
            if is_acronym {
                word
            } else {
                word.to_lowercase()
            }
        })
        .collect();
    if words.is_empty() {
        name.to_string()
    } else {
        words.join(" ")
    }
}

/// `30d` -> `30 days`, `90m` -> `90 minutes`, `1.5h` -> `90 minutes`.
pub fn duration(ticks: i64) -> String {
    if ticks == 0 {
        return "0 seconds".to_string();
    }
    let sign = if ticks < 0 { "minus " } else { "" };
    let magnitude = ticks.unsigned_abs();
    for &(unit_ticks, unit) in TICK_UNITS {
        let unit_ticks = unit_ticks.unsigned_abs();
        if magnitude.is_multiple_of(unit_ticks) {
            let count = magnitude / unit_ticks;
            return format!("{sign}{count} {}", plural(unit, count));
        }
    }
    format!("{sign}{magnitude} ticks")
}

/// `60m` (an Elastic bucket span) -> `60-minute`; `None` when the text is not `<number><unit>`.
pub fn span_adjective(text: &str) -> Option<String> {
    let text = text.trim();
    let digits_end = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return None;
    }
    let unit = match unit {
        "ms" => "millisecond",
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        _ => return None,
    };
    Some(format!("{number}-{unit}"))
}

pub fn plural(word: &str, count: u64) -> String {
    if count == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// A string value as an analyst reads it: bare when it is one plain word (as in "result type
/// equals Failure"), quoted otherwise so that spaces and empty strings stay visible.
pub fn string_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.:/@\\$#".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("\"{}\"", cut(&value.replace('"', "\\\"")))
    }
}

/// Source text shown as code, cut when long.
pub fn code(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("`{}`", cut(&one_line))
}

pub fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_CHARS {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        short.push('…');
        short
    }
}

pub fn literal(literal: &Literal) -> String {
    match &literal.kind {
        LiteralKind::Bool(value) => value.to_string(),
        LiteralKind::Int(value) | LiteralKind::Long(value) => value.to_string(),
        LiteralKind::Real(value) => value.to_string(),
        LiteralKind::Decimal(text) => text.clone(),
        LiteralKind::String(value) => string_value(value),
        LiteralKind::DateTime(text) => text.trim().to_string(),
        LiteralKind::Timespan(ticks) => duration(*ticks),
        LiteralKind::Guid(text) => text.trim().to_string(),
        LiteralKind::Dynamic(value) => dynamic(value),
        LiteralKind::TypedNull(ty) => format!("a null {}", ty.name()),
    }
}

fn dynamic(value: &DynamicValue) -> String {
    match value {
        DynamicValue::Null => "null".to_string(),
        DynamicValue::Bool(value) => value.to_string(),
        DynamicValue::Long(value) => value.to_string(),
        DynamicValue::Real(value) => value.to_string(),
        DynamicValue::String(value) => string_value(value),
        DynamicValue::Array(items) => {
            let items: Vec<String> = items.iter().map(dynamic).collect();
            format!("[{}]", cut(&items.join(", ")))
        }
        DynamicValue::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(key, value)| format!("{key}: {}", dynamic(value)))
                .collect();
            format!("{{{}}}", cut(&fields.join(", ")))
        }
        DynamicValue::Scalar(literal_value) => literal(literal_value),
    }
}

/// "a, b and c".
pub fn and_list(items: &[String]) -> String {
    join_list(items, "and")
}

pub fn or_list(items: &[String]) -> String {
    join_list(items, "or")
}

fn join_list(items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// How a comparison reads: the verb phrase and whether it ignores case (by default, in KQL,
/// `has`, `contains`, `startswith`, `endswith`, `=~`... do; `==` and the `_cs` forms do not).
pub struct Comparison {
    pub verb: &'static str,
    pub ignores_case: bool,
    pub case_sensitive_form: bool,
}

pub fn comparison(op: BinaryOp) -> Option<Comparison> {
    use BinaryOp::*;
    let (verb, ignores_case, case_sensitive_form) = match op {
        Eq => ("equals", false, false),
        NotEq => ("does not equal", false, false),
        EqCi => ("equals", true, false),
        NotEqCi => ("does not equal", true, false),
        Lt => ("is less than", false, false),
        Le => ("is at most", false, false),
        Gt => ("is greater than", false, false),
        Ge => ("is at least", false, false),
        Has => ("has the term", true, false),
        NotHas => ("does not have the term", true, false),
        HasCs => ("has the term", false, true),
        NotHasCs => ("does not have the term", false, true),
        HasPrefix => ("has a term starting with", true, false),
        NotHasPrefix => ("has no term starting with", true, false),
        HasPrefixCs => ("has a term starting with", false, true),
        NotHasPrefixCs => ("has no term starting with", false, true),
        HasSuffix => ("has a term ending with", true, false),
        NotHasSuffix => ("has no term ending with", true, false),
        HasSuffixCs => ("has a term ending with", false, true),
        NotHasSuffixCs => ("has no term ending with", false, true),
        Contains => ("contains", true, false),
        NotContains => ("does not contain", true, false),
        ContainsCs => ("contains", false, true),
        NotContainsCs => ("does not contain", false, true),
        StartsWith => ("starts with", true, false),
        NotStartsWith => ("does not start with", true, false),
        StartsWithCs => ("starts with", false, true),
        NotStartsWithCs => ("does not start with", false, true),
        EndsWith => ("ends with", true, false),
        NotEndsWith => ("does not end with", true, false),
        EndsWithCs => ("ends with", false, true),
        NotEndsWithCs => ("does not end with", false, true),
        MatchesRegex => ("matches the regular expression", false, false),
        SearchColon => ("has the term", true, false),
        Or | And | Add | Sub | Mul | Div | Mod => return None,
    };
    Some(Comparison {
        verb,
        ignores_case,
        case_sensitive_form,
    })
}

pub fn arithmetic(op: BinaryOp) -> Option<&'static str> {
    Some(match op {
        BinaryOp::Add => "plus",
        BinaryOp::Sub => "minus",
        BinaryOp::Mul => "times",
        BinaryOp::Div => "divided by",
        BinaryOp::Mod => "modulo",
        _ => return None,
    })
}

/// `in`, `!in~`, `has_any`...: the verb phrase and whether it ignores case.
pub fn list_op(op: ListOp) -> (&'static str, bool) {
    match op {
        ListOp::In => ("is one of", false),
        ListOp::NotIn => ("is none of", false),
        ListOp::InCi => ("is one of", true),
        ListOp::NotInCi => ("is none of", true),
        ListOp::HasAny => ("has any of the terms", true),
        ListOp::HasAll => ("has all of the terms", true),
    }
}

/// A friendly description of the Log Analytics tables detections read most; other tables are
/// named as they are.
pub fn table_description(table: &str) -> Option<&'static str> {
    let lower = table.to_ascii_lowercase();
    Some(match lower.as_str() {
        "aadprovisioninglogs" => {
            "Microsoft Entra ID provisioning logs: users and groups created, updated and deleted in connected applications"
        }
        "signinlogs" => "Microsoft Entra ID interactive user sign-ins",
        "aadnoninteractiveusersigninlogs" => {
            "Microsoft Entra ID non-interactive user sign-ins (token refreshes, sign-ins by clients on behalf of users)"
        }
        "aadserviceprincipalsigninlogs" => {
            "Microsoft Entra ID sign-ins by service principals (applications)"
        }
        "aadmanagedidentitysigninlogs" => "Microsoft Entra ID sign-ins by managed identities",
        "auditlogs" => {
            "Microsoft Entra ID audit logs: changes to users, groups, applications and roles"
        }
        "azureactivity" => {
            "Azure Activity logs: control-plane operations on Azure subscriptions and resources"
        }
        "azurediagnostics" => "Azure resource diagnostic logs",
        "officeactivity" => "Microsoft 365 (Exchange, SharePoint, Teams) audit activity",
        "securityevent" => "Windows security events from monitored machines",
        "securityalert" => "alerts raised by Microsoft security products",
        "securityincident" => "Microsoft Sentinel incidents",
        "syslog" => "Syslog messages from Linux machines and devices",
        "commonsecuritylog" => "CEF events from firewalls and other security appliances",
        "event" => "Windows event log records",
        "heartbeat" => "agent heartbeats of monitored machines",
        "dnsevents" => "DNS server events",
        "w3ciislog" => "IIS web server logs",
        "azurenetworkanalytics_cl" => "Azure network traffic analytics",
        "threatintelligenceindicator" => "threat intelligence indicators",
        "behavioranalytics" => "Microsoft Sentinel user and entity behaviour analytics",
        "identityinfo" => "user identity information from Microsoft Entra ID",
        "devicenetworkevents" => "Microsoft Defender for Endpoint network connections",
        "deviceprocessevents" => "Microsoft Defender for Endpoint process creations",
        "devicefileevents" => "Microsoft Defender for Endpoint file events",
        "deviceevents" => "Microsoft Defender for Endpoint device events",
        "devicelogonevents" => "Microsoft Defender for Endpoint sign-ins to devices",
        "deviceregistryevents" => "Microsoft Defender for Endpoint registry changes",
        "emailevents" => "Microsoft Defender for Office 365 email events",
        "cloudappevents" => "Microsoft Defender for Cloud Apps activity",
        "microsoftgraphactivitylogs" => "Microsoft Graph API requests",
        "storagebloblogs" => "Azure Storage blob access logs",
        "azurekeyvault" | "keyvaultdata" => "Azure Key Vault access logs",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_become_words() {
        assert_eq!(humanize("ResultType"), "result type");
        assert_eq!(humanize("SPName"), "SP name");
        assert_eq!(humanize("TimeGenerated"), "time generated");
        assert_eq!(humanize("Caller_IP"), "caller IP");
        assert_eq!(humanize("IPAddress"), "IP address");
        assert_eq!(humanize("_ResourceId"), "resource id");
        assert_eq!(humanize("EventID4624"), "event ID 4624");
        assert_eq!(humanize("x"), "x");
    }

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(duration(30 * 864_000_000_000), "30 days");
        assert_eq!(duration(864_000_000_000), "1 day");
        assert_eq!(duration(90 * 600_000_000), "90 minutes");
        assert_eq!(duration(15_000), "1500 microseconds");
        assert_eq!(duration(-36_000_000_000), "minus 1 hour");
        assert_eq!(span_adjective("60m").as_deref(), Some("60-minute"));
        assert_eq!(span_adjective("bad"), None);
    }

    #[test]
    fn strings_are_quoted_unless_one_plain_word() {
        assert_eq!(string_value("Failure"), "Failure");
        assert_eq!(string_value("Add member"), "\"Add member\"");
        assert_eq!(string_value(""), "\"\"");
    }
}
