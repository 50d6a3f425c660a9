//! Agora NCS notifications, read leniently (ncs.md): numbers may come as strings, booleans as
//! `"true"`, `fileList` as a string (the M3U8 name) or an array of entries with `fileName` or
//! `filename`; unknown fields are ignored.

use serde::Serialize;
use serde_json::Value;

/// Cloud Recording's `productId`.
pub const PRODUCT_CLOUD_RECORDING: i64 = 3;

/// Event types the service acts on.
pub mod event {
    pub const UPLOADER_STARTED: i64 = 30;
    pub const UPLOADED: i64 = 31;
    pub const BACKUPED: i64 = 32;
    pub const RECORDER_STARTED: i64 = 40;
    pub const RECORDER_LEAVE: i64 = 41;
    pub const RECORDER_SLICE_START: i64 = 42;
}

/// One notification, as far as the service needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub notice_id: String,
    pub product_id: Option<i64>,
    pub event_type: i64,
    pub notify_ms: Option<i64>,
    pub sid: Option<String>,
    pub cname: Option<String>,
    pub uid: Option<String>,
    pub sequence: Option<i64>,
    pub details: Value,
}

/// One entry of a `fileList`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    pub file_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixed_all_user: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_playable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_start_time: Option<i64>,
}

/// Why a body is not a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a JSON object")]
    NotObject,
    #[error("the notification has no eventType")]
    NoEventType,
}

impl Notification {
    /// Reads a body whose signature has already been checked.
    pub fn parse(body: &[u8]) -> Result<Notification, ParseError> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
        let Value::Object(top) = &v else {
            return Err(ParseError::NotObject);
        };
        let event_type = top
            .get("eventType")
            .and_then(int)
            .ok_or(ParseError::NoEventType)?;
        let payload = top.get("payload").cloned().unwrap_or(Value::Null);
        let text = |k: &str| payload.get(k).and_then(string).filter(|s| !s.is_empty());
        Ok(Notification {
            notice_id: top.get("noticeId").and_then(string).unwrap_or_default(),
            product_id: top.get("productId").and_then(int),
            event_type,
            notify_ms: top.get("notifyMs").and_then(int),
            sid: text("sid"),
            cname: text("cname"),
            uid: text("uid"),
            sequence: payload.get("sequence").and_then(int),
            details: payload.get("details").cloned().unwrap_or(Value::Null),
        })
    }

    /// The idempotency key's last part: `payload.sequence`, or, for a notification without
    /// one, its `noticeId` (so two such events are never taken for one).
    pub fn sequence_key(&self) -> String {
        match self.sequence {
            Some(n) => n.to_string(),
            None => format!("notice:{}", self.notice_id),
        }
    }

    /// `fileList` of events 31/32 (and 3/4, 71): a string is one M3U8 name.
    pub fn file_list(&self) -> Vec<FileEntry> {
        match self.details.get("fileList") {
            Some(Value::String(name)) if !name.is_empty() => vec![FileEntry {
                file_name: name.clone(),
                track_type: None,
                uid: None,
                mixed_all_user: None,
                is_playable: None,
                slice_start_time: None,
            }],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| {
                    let name = item
                        .get("fileName")
                        .or_else(|| item.get("filename"))
                        .and_then(string)
                        .filter(|s| !s.is_empty())?;
                    Some(FileEntry {
                        file_name: name,
                        track_type: item.get("trackType").and_then(string),
                        uid: item.get("uid").and_then(string),
                        mixed_all_user: item.get("mixedAllUser").and_then(boolish),
                        is_playable: item.get("isPlayable").and_then(boolish),
                        slice_start_time: item.get("sliceStartTime").and_then(int),
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Event 42's hole: `(end of the last good slice, start of the next one)` in UTC ms, when
    /// `discontinueUtcMs` says a slice was lost.
    pub fn slice_gap(&self) -> Option<(i64, i64)> {
        let end = self.details.get("discontinueUtcMs").and_then(int)?;
        let start = self.details.get("startUtcMs").and_then(int).unwrap_or(0);
        (end > 0).then_some((end, start))
    }

    /// Event 41's `leaveCode` bitmask.
    pub fn leave_code(&self) -> Option<i64> {
        self.details.get("leaveCode").and_then(int)
    }
}

/// A number, or a string holding one.
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A string, or a number written as one (uids arrive both ways).
fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `true`/`false`, or the strings `"true"`/`"false"` older copies send (and 1/0).
fn boolish(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

/// What Agora's `leaveCode` bits mean (ncs.md), for reports.
pub fn leave_reasons(code: i64) -> Vec<&'static str> {
    if code == 0 {
        return vec!["INIT"];
    }
    [
        (2, "SIG"),
        (4, "NO_USERS"),
        (8, "TIMER_CATCH"),
        (16, "CLIENT_LEAVE"),
    ]
    .into_iter()
    .filter(|(bit, _)| code & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_with_an_array_and_string_booleans() {
        let body = br#"{"noticeId":"n1","productId":3,"eventType":31,"notifyMs":5,"extra":{"x":1},
            "payload":{"cname":"room","uid":"527","sid":"S1","sequence":"7","sendts":1,"serviceType":2,
            "details":{"msgName":"uploaded","status":0,"fileList":[
              {"fileName":"a/S1_room.m3u8","trackType":"audio_and_video","uid":"0","mixedAllUser":"true","isPlayable":"false","sliceStartTime":"1560408533119"},
              {"filename":"a/S1_room_web.mp4","mixedAllUser":true},
              {"fileName":""}]}}}"#;
        let n = Notification::parse(body).unwrap();
        assert_eq!(n.event_type, 31);
        assert_eq!(n.product_id, Some(3));
        assert_eq!(n.sid.as_deref(), Some("S1"));
        assert_eq!(n.sequence, Some(7));
        assert_eq!(n.sequence_key(), "7");
        let files = n.file_list();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].file_name, "a/S1_room.m3u8");
        assert_eq!(files[0].mixed_all_user, Some(true));
        assert_eq!(files[0].is_playable, Some(false));
        assert_eq!(files[0].slice_start_time, Some(1560408533119));
        assert_eq!(files[1].file_name, "a/S1_room_web.mp4");
    }

    #[test]
    fn file_list_as_a_string_and_numbers_as_strings() {
        let body =
            br#"{"noticeId":"n","productId":"3","eventType":"32","payload":{"sid":"S","uid":123,
            "details":{"fileList":"S_room.m3u8"}}}"#;
        let n = Notification::parse(body).unwrap();
        assert_eq!(n.event_type, 32);
        assert_eq!(n.uid.as_deref(), Some("123"));
        assert_eq!(n.sequence, None);
        assert_eq!(n.sequence_key(), "notice:n");
        assert_eq!(n.file_list()[0].file_name, "S_room.m3u8");
    }

    #[test]
    fn slice_gaps_and_leave_codes() {
        let body = br#"{"eventType":42,"payload":{"sid":"S","sequence":3,
            "details":{"startUtcMs":3000,"discontinueUtcMs":1000}}}"#;
        let n = Notification::parse(body).unwrap();
        assert_eq!(n.slice_gap(), Some((1000, 3000)));
        let first = br#"{"eventType":42,"payload":{"sid":"S","details":{"startUtcMs":3000,"discontinueUtcMs":0}}}"#;
        assert_eq!(Notification::parse(first).unwrap().slice_gap(), None);
        let left = br#"{"eventType":41,"payload":{"sid":"S","details":{"leaveCode":"20"}}}"#;
        let n = Notification::parse(left).unwrap();
        assert_eq!(n.leave_code(), Some(20));
        assert_eq!(leave_reasons(20), vec!["NO_USERS", "CLIENT_LEAVE"]);
        assert_eq!(leave_reasons(0), vec!["INIT"]);
    }

    #[test]
    fn not_a_notification() {
        assert!(matches!(
            Notification::parse(b"{nope"),
            Err(ParseError::NotJson(_))
        ));
        assert_eq!(Notification::parse(b"[1]"), Err(ParseError::NotObject));
        assert_eq!(
            Notification::parse(br#"{"payload":{}}"#),
            Err(ParseError::NoEventType)
        );
    }
}
