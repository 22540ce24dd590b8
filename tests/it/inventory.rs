//! `mailferry inventory` against a local web server answering with
//! documents shaped as Google's Directory API and Microsoft Graph
//! references show them (paging, a throttled answer, a refused field),
//! behind the real sign-ins (a signed service-account assertion, the
//! client-credentials grant) pointed at a local token endpoint.

use crate::common::{mailferry, text};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mailferry_harness::HttpServer;

const TOKEN: &str =
    r#"{"access_token":"ya29.directory-1","token_type":"Bearer","expires_in":3600}"#;

fn google_user(email: &str, name: &str, suspended: bool, last: &str, aliases: &[&str]) -> String {
    serde_json::json!({
        "kind": "admin#directory#user",
        "id": format!("1{}", email.len()),
        "etag": "\"e\"",
        "primaryEmail": email,
        "name": { "givenName": name, "familyName": "Baker", "fullName": format!("{name} Baker") },
        "isAdmin": false,
        "isDelegatedAdmin": false,
        "lastLoginTime": last,
        "creationTime": "2019-03-01T10:00:00.000Z",
        "agreedToTerms": true,
        "suspended": suspended,
        "archived": false,
        "changePasswordAtNextLogin": false,
        "ipWhitelisted": false,
        "emails": [{ "address": email, "primary": true }],
        "aliases": aliases,
        "customerId": "C03az79cb",
        "orgUnitPath": "/",
        "isMailboxSetup": true,
        "includeInGlobalAddressList": true
    })
    .to_string()
}

/// `mailferry inventory --google KEY --admin boss@bakery.example --api
/// BASE` and `extra`.
fn google_inventory(key: &std::path::Path, base: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "inventory",
        "--google",
        key.to_str().unwrap(),
        "--admin",
        "boss@bakery.example",
        "--api",
        base,
    ];
    args.extend_from_slice(extra);
    mailferry(&args, &[])
}

/// The Reports API's user usage report of `date`, as MailFerry asks for it.
fn usage_report(date: chrono::NaiveDate) -> String {
    format!(
        "/admin/reports/v1/usage/users/all/dates/{}?parameters=accounts:gmail_used_quota_in_mb,accounts:used_quota_in_mb&maxResults=1000",
        date.format("%Y-%m-%d")
    )
}

#[test]
fn google_workspace_lists_every_user_across_pages_and_flags_the_ones_to_look_at() {
    let web = HttpServer::start();
    let base = format!("http://127.0.0.1:{}", web.port());
    web.serve("/token", TOKEN);
    let first = "/admin/directory/v1/users?customer=my_customer&maxResults=500&orderBy=email&projection=basic";
    web.answer(
        first,
        200,
        &[],
        &format!(
            r#"{{"kind":"admin#directory#users","etag":"\"p1\"","users":[{},{}],"nextPageToken":"Q0FFU0dn+/x=="}}"#,
            google_user("anna@bakery.example", "Anna", false, "2026-11-30T09:12:44.000Z", &["info@bakery.example"]),
            google_user("ben@bakery.example", "Ben", true, "2025-06-01T08:00:00.000Z", &[]),
        ),
    );
    web.answer(
        &format!("{first}&pageToken=Q0FFU0dn%2B%2Fx%3D%3D"),
        200,
        &[],
        &format!(
            r#"{{"kind":"admin#directory#users","etag":"\"p2\"","users":[{},{}]}}"#,
            google_user(
                "printer@bakery.example",
                "Printer",
                false,
                "1970-01-01T00:00:00.000Z",
                &[]
            ),
            google_user(
                "zoe@bakery.example",
                "Zoe",
                false,
                "2026-12-01T17:00:00.000Z",
                &[]
            ),
        ),
    );
    // The storage used, from the Reports API: the latest days have no
    // figures yet (refused, then a warning), the day before has them, on
    // two pages. The engine's "today" may be a day after the test's.
    let today = chrono::Utc::now().date_naive();
    let day = |back: i64| usage_report(today - chrono::Duration::days(back));
    web.answer(
        &day(1),
        400,
        &[],
        &format!(
            r#"{{"error":{{"code":400,"message":"Data for dates later than {} is not yet available. Please check back later","errors":[{{"message":"Data for dates later than {} is not yet available. Please check back later","domain":"global","reason":"invalid"}}]}}}}"#,
            today - chrono::Duration::days(3),
            today - chrono::Duration::days(3)
        ),
    );
    web.answer(
        &day(2),
        200,
        &[],
        &serde_json::json!({
            "kind": "admin#reports#usageReports",
            "etag": "\"r0\"",
            "warnings": [{
                "code": "DATA_NOT_AVAILABLE",
                "message": "Data for dates later than the requested date is not yet available.",
                "data": [{ "key": "application", "value": "accounts" }],
            }],
        })
        .to_string(),
    );
    let usage = |email: &str, gmail_mb: &str, total_mb: &str| {
        serde_json::json!({
            "kind": "admin#reports#usageReport",
            "date": (today - chrono::Duration::days(3)).format("%Y-%m-%d").to_string(),
            "etag": "\"u\"",
            "entity": { "type": "USER", "customerId": "C03az79cb", "userEmail": email, "profileId": "1" },
            "parameters": [
                { "name": "accounts:gmail_used_quota_in_mb", "intValue": gmail_mb },
                { "name": "accounts:used_quota_in_mb", "intValue": total_mb },
            ],
        })
    };
    web.answer(
        &day(3),
        200,
        &[],
        &serde_json::json!({
            "kind": "admin#reports#usageReports",
            "etag": "\"r1\"",
            "usageReports": [usage("anna@bakery.example", "2200", "5000"), usage("ben@bakery.example", "40", "41")],
            "nextPageToken": "A:1764547200000:-1:anna:+/==",
        })
        .to_string(),
    );
    web.answer(
        &format!(
            "{}&pageToken=A%3A1764547200000%3A-1%3Aanna%3A%2B%2F%3D%3D",
            day(3)
        ),
        200,
        &[],
        &serde_json::json!({
            "kind": "admin#reports#usageReports",
            "etag": "\"r2\"",
            "usageReports": [usage("zoe@bakery.example", "0", "3")],
        })
        .to_string(),
    );
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = crate::oauth_grants::service_account_key(dir.path(), &format!("{base}/token"));
    let key = dir.path().join("service-account.json");
    let list = dir.path().join("mailboxes.csv");
    let inventory = || google_inventory(&key, &base, &["--list", list.to_str().unwrap()]);
    let out = inventory();
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(said.contains("anna@bakery.example"), "{said}");
    assert!(said.contains("also info@bakery.example"), "{said}");
    assert!(
        said.contains("look first: sign-in blocked or suspended"),
        "{said}"
    );
    assert!(said.contains("look first: never signed in"), "{said}");
    // Sizes in words, the total on the first line; no figure, no size.
    assert!(
        said.starts_with("4 mailboxes in Google Workspace (2 worth a second look), 2.3 GB in all."),
        "{said}"
    );
    let anna = said.lines().find(|l| l.contains("anna@")).unwrap();
    assert!(
        anna.contains("2.3 GB"),
        "Gmail's own 2,200 MB, not the account's: {said}"
    );
    let printer = said.lines().find(|l| l.contains("printer@")).unwrap();
    assert!(
        !["bytes", "MB", "GB"].iter().any(|u| printer.contains(u)),
        "{said}"
    );
    let zoe = said.lines().find(|l| l.contains("zoe@")).unwrap();
    assert!(
        zoe.contains("0 bytes"),
        "from the report's second page: {said}"
    );

    // The list: the plain ones as rows, the flagged ones commented out.
    let written = std::fs::read_to_string(&list).unwrap();
    let rows = mailferry::domain::parse_list(&written, &[]);
    let moved: Vec<&str> = rows.iter().map(|r| r.source_user.as_str()).collect();
    assert_eq!(
        moved,
        ["anna@bakery.example", "zoe@bakery.example"],
        "{written}"
    );
    assert!(rows
        .iter()
        .all(|r| r.problem.is_none() && r.destination_user == r.source_user));
    assert!(
        written
            .contains("# ben@bakery.example,ben@bakery.example    <- sign-in blocked or suspended"),
        "{written}"
    );
    assert!(
        written.contains(
            "# anna@bakery.example: 2.3 GB used\nanna@bakery.example,anna@bakery.example\n"
        ),
        "{written}"
    );
    assert!(
        written.contains("# Storage used: 2.3 GB in all.\n"),
        "{written}"
    );
    assert!(written.contains("; 41.9 MB used\n"), "{written}");

    // Signed in as the service account acting as the administrator, for
    // the directory's read-only scope; the token went with each page.
    let requests = web.requests();
    let pages: Vec<_> = requests
        .iter()
        .filter(|r| r.target.starts_with("/admin/directory/"))
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(requests
        .iter()
        .filter(|r| r.target.starts_with("/admin/"))
        .all(|r| r.authorization == "Bearer ya29.directory-1"));
    // The usage report with its own read-only scope, as the administrator;
    // each day asked once, the one with figures to its last page.
    let scopes: Vec<String> = requests
        .iter()
        .filter(|r| r.target == "/token")
        .map(|r| {
            let assertion = r
                .body
                .split('&')
                .find_map(|kv| kv.strip_prefix("assertion="))
                .unwrap();
            let claims: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(assertion.split('.').nth(1).unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(claims["sub"], "boss@bakery.example");
            claims["scope"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        scopes,
        [
            "https://www.googleapis.com/auth/admin.directory.user.readonly",
            "https://www.googleapis.com/auth/admin.reports.usage.readonly"
        ]
    );
    let reports = requests
        .iter()
        .filter(|r| r.target.starts_with("/admin/reports/"))
        .count();
    assert!(
        (3..=4).contains(&reports),
        "two days without figures, two pages: {reports}"
    );

    // A list the owner may have edited is never overwritten.
    let again = inventory();
    assert_ne!(again.status.code(), Some(0));
    assert!(
        text(&again.stderr).contains("cannot write the list"),
        "{}",
        text(&again.stderr)
    );
}

fn graph_user(
    name: &str,
    mail: Option<&str>,
    enabled: bool,
    last: Option<&str>,
) -> serde_json::Value {
    let mut user = serde_json::json!({
        "id": format!("87d349ed-44d7-43e1-9a83-{:012}", name.len()),
        "displayName": name,
        "userPrincipalName": match mail {
            Some("Anna@bakery.example") => "Anna.Baker@bakery.onmicrosoft.com",
            Some(mail) => mail,
            None => "room1@bakery.onmicrosoft.com",
        },
        "mail": mail,
        "accountEnabled": enabled,
        "proxyAddresses": mail.map(|m| vec![format!("SMTP:{m}"), format!("smtp:{}", m.replace("@", ".old@"))]).unwrap_or_default(),
    });
    if let Some(last) = last {
        user["signInActivity"] = serde_json::json!({
            "lastSignInDateTime": last,
            "lastSignInRequestId": "c7df2760-2c81-4ef7-b578-5b5392b571df",
            "lastNonInteractiveSignInDateTime": last,
        });
    }
    user
}

#[test]
fn microsoft_365_lists_mailboxes_across_pages_waits_out_throttling_and_says_what_it_could_not_see()
{
    let web = HttpServer::start();
    let base = format!("http://127.0.0.1:{}", web.port());
    web.serve("/tenant/oauth2/v2.0/token", TOKEN);
    let select = "displayName,userPrincipalName,mail,accountEnabled,proxyAddresses";
    // A tenant without Entra ID P1: asking for last sign-ins is refused.
    web.answer(
        &format!("/v1.0/users?$select={select},signInActivity&$top=999"),
        403,
        &[],
        r#"{"error":{"code":"Authentication_RequestFromNonPremiumTenantOrB2CTenant","message":"Neither tenant is B2C or tenant doesn't have premium license","innerError":{"date":"2026-12-05T10:00:00","request-id":"1","client-request-id":"1"}}}"#,
    );
    let first = format!("/v1.0/users?$select={select}&$top=999");
    let next = format!("{base}/v1.0/users?$select={select}&$top=999&$skiptoken=RFNwdAIAAQAAAA");
    web.answer(
        &first,
        200,
        &[],
        &serde_json::json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(displayName,userPrincipalName,mail,accountEnabled,proxyAddresses)",
            "value": [graph_user("Anna Baker", Some("Anna@bakery.example"), true, None),
                      graph_user("Meeting room", None, true, None)],
            "@odata.nextLink": next,
        })
        .to_string(),
    );
    // The second page is throttled once, then served.
    let second = format!("/v1.0/users?$select={select}&$top=999&$skiptoken=RFNwdAIAAQAAAA");
    web.answer(
        &second,
        429,
        &[("Retry-After", "1")],
        r#"{"error":{"code":"TooManyRequests","message":"Too many requests"}}"#,
    );
    web.answer(
        &second,
        200,
        &[],
        &serde_json::json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
            "value": [graph_user("Invoices", Some("invoices@bakery.example"), false, None)],
        })
        .to_string(),
    );
    // The mailbox usage report: a redirect to a download address (no
    // token needed there), a CSV file with the reference's columns, by
    // sign-in name (Anna's differs from her address).
    web.answer(
        "/v1.0/reports/getMailboxUsageDetail(period='D7')",
        302,
        &[(
            "Location",
            &format!("{base}/data/download/JDFKdf2_eJXKS034dbc7e0t__XDe"),
        )],
        "",
    );
    web.serve(
        "/data/download/JDFKdf2_eJXKS034dbc7e0t__XDe",
        "\u{feff}Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Created Date,Last Activity Date,Item Count,Storage Used (Byte),Issue Warning Quota (Byte),Prohibit Send Quota (Byte),Prohibit Send/Receive Quota (Byte),Deleted Item Count,Deleted Item Size (Byte),Deleted Item Quota (Byte),Has Archive,Report Period\r\n\
         2026-12-04,anna.baker@bakery.onmicrosoft.com,\"Baker, Anna\",False,,2019-03-01,2026-12-03,12034,2469606195,106300440576,106742614016,107374182400,211,40960,32212254720,False,7\r\n\
         2026-12-04,invoices@bakery.example,Invoices,False,,2020-01-15,2026-11-02,800,73400320,106300440576,106742614016,107374182400,0,0,32212254720,False,7\r\n",
    );
    let out = mailferry(
        &[
            "inventory",
            "--microsoft",
            &format!("{base}/tenant/oauth2/v2.0/token"),
            "--api",
            &base,
            "--json",
        ],
        &[
            ("MAILFERRY_OAUTH_CLIENT_ID", "app-id"),
            ("MAILFERRY_OAUTH_CLIENT_SECRET", "app-secret-xyz"),
        ],
    );
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(json["directory"], "Microsoft 365");
    let people = json["people"].as_array().unwrap();
    let addresses: Vec<&str> = people
        .iter()
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        ["anna@bakery.example", "invoices@bakery.example"],
        "the room without a mailbox is left out"
    );
    assert_eq!(
        people[0]["aliases"],
        serde_json::json!(["anna.old@bakery.example"])
    );
    assert_eq!(
        people[1]["blocked"], true,
        "a shared mailbox's sign-in is blocked"
    );
    assert_eq!(people[0]["storage_bytes"], 2_469_606_195_u64);
    assert_eq!(people[1]["storage_bytes"], 73_400_320);
    let download = web
        .requests()
        .into_iter()
        .find(|r| r.target.starts_with("/data/download/"))
        .expect("the report was downloaded");
    assert_eq!(download.authorization, "", "the token stays with Graph");
    assert!(
        json["notes"][0]
            .as_str()
            .unwrap()
            .contains("AuditLog.Read.All"),
        "{said}"
    );
    let requests = web.requests();
    let token = requests
        .iter()
        .find(|r| r.target.ends_with("/token"))
        .unwrap();
    assert!(
        token.body.contains("grant_type=client_credentials"),
        "{}",
        token.body
    );
    assert!(
        token
            .body
            .contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"),
        "{}",
        token.body
    );
    let throttled = requests.iter().filter(|r| r.target == second).count();
    assert_eq!(throttled, 2, "asked again after the throttled answer");
    assert!(requests
        .iter()
        .filter(|r| r.target.starts_with("/v1.0/"))
        .all(|r| r.authorization == "Bearer ya29.directory-1"));
}

#[test]
fn a_directory_that_refuses_says_what_the_administrator_allows() {
    let web = HttpServer::start();
    let base = format!("http://127.0.0.1:{}", web.port());
    web.serve("/t/token", TOKEN);
    let select = "displayName,userPrincipalName,mail,accountEnabled,proxyAddresses";
    for target in [
        format!("/v1.0/users?$select={select},signInActivity&$top=999"),
        format!("/v1.0/users?$select={select}&$top=999"),
    ] {
        web.answer(
            &target,
            403,
            &[],
            r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#,
        );
    }
    let out = mailferry(
        &[
            "inventory",
            "--microsoft",
            &format!("{base}/t/token"),
            "--api",
            &base,
        ],
        &[
            ("MAILFERRY_OAUTH_CLIENT_ID", "app-id"),
            ("MAILFERRY_OAUTH_CLIENT_SECRET", "app-secret-xyz"),
        ],
    );
    let all = text(&out.stdout) + &text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("did not let MailFerry list your organisation's mailboxes"),
        "{all}"
    );
    assert!(all.contains("User.Read.All"), "{all}");
    assert!(
        all.contains("Insufficient privileges to complete the operation."),
        "{all}"
    );
    assert!(!all.contains("app-secret-xyz"), "no secret in what is said");
}

#[test]
fn sizes_the_administrator_did_not_allow_are_a_note_and_the_list_still_comes() {
    let web = HttpServer::start();
    let base = format!("http://127.0.0.1:{}", web.port());
    web.serve("/token", TOKEN);
    web.answer(
        "/admin/directory/v1/users?customer=my_customer&maxResults=500&orderBy=email&projection=basic",
        200,
        &[],
        &format!(
            r#"{{"kind":"admin#directory#users","etag":"\"p1\"","users":[{}]}}"#,
            google_user("anna@bakery.example", "Anna", false, "2026-11-30T09:12:44.000Z", &[]),
        ),
    );
    // Every day's report refused: the scope is not in the delegation.
    let today = chrono::Utc::now().date_naive();
    for back in 0..8 {
        web.answer(
            &usage_report(today - chrono::Duration::days(back)),
            403,
            &[],
            r#"{"error":{"code":403,"message":"Caller does not have access to the customers reporting data.","errors":[{"message":"Caller does not have access to the customers reporting data.","domain":"global","reason":"forbidden"}]}}"#,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    crate::oauth_grants::service_account_key(dir.path(), &format!("{base}/token"));
    let key = dir.path().join("service-account.json");
    let out = google_inventory(&key, &base, &[]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.starts_with("1 mailbox in Google Workspace (0 worth a second look).\n"),
        "{said}"
    );
    assert!(
        said.contains("Note: Google Workspace did not give the storage each mailbox uses"),
        "{said}"
    );
    assert!(said.contains("admin.reports.usage.readonly"), "{said}");
    assert!(!said.contains(" GB") && !said.contains(" MB"), "{said}");
}
