//! One sentence per anomaly record, built from what the model knew when it scored it.

use crate::config::ExplainWords;

/// A span of history in words: "31 days", "1 day", "5 hours".
pub fn history_span(seconds: i64) -> String {
    let days = (seconds as f64 / 86_400.0).round() as i64;
    if days >= 1 {
        if days == 1 {
            "1 day".to_string()
        } else {
            format!("{days} days")
        }
    } else {
        let hours = (seconds / 3600).max(1);
        if hours == 1 {
            "1 hour".to_string()
        } else {
            format!("{hours} hours")
        }
    }
}

/// Who and where, from the influencers: "caller alice@contoso.com from 203.0.113.7" when the
/// ECS user and source fields are there, else "field value" pairs. Fields already named in
/// the sentence (`skip`) are left out.
pub fn influencer_phrase(influencers: &[(String, Vec<String>)], skip: &[&str]) -> String {
    let values = |field: &str| {
        influencers
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, values)| list(values))
    };
    let caller = values("user.email").or_else(|| values("user.name"));
    let source = values("source.ip");
    let mut parts = Vec::new();
    match (caller, source) {
        (Some(caller), Some(source)) => parts.push(format!("caller {caller} from {source}")),
        (Some(caller), None) => parts.push(format!("caller {caller}")),
        (None, Some(source)) => parts.push(format!("from {source}")),
        (None, None) => {}
    }
    for (field, vals) in influencers {
        let named = ["user.email", "user.name", "source.ip", "event.module"];
        if named.contains(&field.as_str()) || skip.contains(&field.as_str()) || vals.is_empty() {
            continue;
        }
        parts.push(format!("{field} {}", list(vals)));
    }
    parts.join(", ")
}

fn list(values: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = values
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > SHOWN {
        text.push_str(&format!(" (+{} more)", values.len() - SHOWN));
    }
    text
}

/// What a rare record's sentence needs.
pub struct RareFacts<'a> {
    pub words: &'a ExplainWords,
    pub value: &'a str,
    /// The value's concentration before this bucket (0 for a value never seen).
    pub prior_concentration: f64,
    /// The model's total after this bucket.
    pub total: f64,
    pub history_seconds: i64,
    pub partition: Option<(&'a str, &'a str)>,
    pub over: Option<(&'a str, &'a str)>,
    pub probability: f64,
    pub influencers: &'a [(String, Vec<String>)],
    pub skip: &'a [&'a str],
}

/// "Microsoft.Authorization/roleAssignments/write failed for the first time in 31 days of
/// history: 1 of 412 failing operation-hours; caller alice@contoso.com from 203.0.113.7".
pub fn rare_sentence(facts: &RareFacts<'_>) -> String {
    let span = history_span(facts.history_seconds);
    let total = facts.total.round().max(1.0);
    let whose = match (facts.over, facts.partition) {
        (Some((_, over)), _) => format!(" for {over}"),
        (None, Some((_, partition))) if !partition.is_empty() => format!(" for {partition}"),
        _ => String::new(),
    };
    let mut sentence = if facts.prior_concentration < 0.5 {
        format!(
            "{} {}{whose} for the first time in {span} of history: 1 of {total:.0} {}",
            facts.value, facts.words.verb, facts.words.unit
        )
    } else {
        format!(
            "{} {}{whose} in only {:.0} of {total:.0} {} over {span} of history (probability {:.2e})",
            facts.value,
            facts.words.verb,
            (facts.prior_concentration + 1.0).round(),
            facts.words.unit,
            facts.probability
        )
    };
    let who = influencer_phrase(facts.influencers, facts.skip);
    if !who.is_empty() {
        sentence.push_str("; ");
        sentence.push_str(&who);
    }
    sentence
}

/// "31 events in the bucket against a typical 2.6 (probability 1.2e-9); caller ...".
pub fn count_sentence(
    what: &str,
    entity: &str,
    actual: f64,
    typical: f64,
    probability: f64,
    influencers: &[(String, Vec<String>)],
    skip: &[&str],
) -> String {
    let entity = if entity.is_empty() {
        String::new()
    } else {
        format!(" for {entity}")
    };
    let direction = if actual >= typical { "more" } else { "fewer" };
    let mut sentence = format!(
        "{actual:.0} {what}{entity} in the bucket, {direction} than the typical {typical:.1} (probability {probability:.2e})"
    );
    let who = influencer_phrase(influencers, skip);
    if !who.is_empty() {
        sentence.push_str("; ");
        sentence.push_str(&who);
    }
    sentence
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_time_sentence_reads_like_the_issue() {
        let words = ExplainWords {
            verb: "failed".to_string(),
            unit: "failing operation-hours".to_string(),
        };
        let influencers = vec![
            (
                "user.email".to_string(),
                vec!["alice@contoso.com".to_string()],
            ),
            ("source.ip".to_string(), vec!["203.0.113.7".to_string()]),
            ("event.module".to_string(), vec!["azure".to_string()]),
            (
                "event.action".to_string(),
                vec!["Microsoft.Authorization/roleAssignments/write".to_string()],
            ),
        ];
        let sentence = rare_sentence(&RareFacts {
            words: &words,
            value: "Microsoft.Authorization/roleAssignments/write",
            prior_concentration: 0.0,
            total: 412.3,
            history_seconds: 31 * 86_400,
            partition: None,
            over: None,
            probability: 0.002,
            influencers: &influencers,
            skip: &["event.action"],
        });
        assert_eq!(
            sentence,
            "Microsoft.Authorization/roleAssignments/write failed for the first time in 31 days of history: 1 of 412 failing operation-hours; caller alice@contoso.com from 203.0.113.7"
        );
    }

    #[test]
    fn spans() {
        assert_eq!(history_span(1800), "1 hour");
        assert_eq!(history_span(5 * 3600), "5 hours");
        assert_eq!(history_span(86_400 + 3600), "1 day");
        assert_eq!(history_span(30 * 86_400), "30 days");
    }
}
