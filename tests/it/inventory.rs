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
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = crate::oauth_grants::service_account_key(dir.path(), &format!("{base}/token"));
    let key = dir.path().join("service-account.json");
    let list = dir.path().join("mailboxes.csv");
    let inventory = || {
        mailferry(
            &[
                "inventory",
                "--google",
                key.to_str().unwrap(),
                "--admin",
                "boss@bakery.example",
                "--api",
                &base,
                "--list",
                list.to_str().unwrap(),
            ],
            &[],
        )
    };
    let out = inventory();
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.starts_with("4 mailboxes in Google Workspace (2 worth a second look)."),
        "{said}"
    );
    assert!(said.contains("anna@bakery.example"), "{said}");
    assert!(said.contains("also info@bakery.example"), "{said}");
    assert!(
        said.contains("look first: sign-in blocked or suspended"),
        "{said}"
    );
    assert!(said.contains("look first: never signed in"), "{said}");

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

    // Signed in as the service account acting as the administrator, for
    // the directory's read-only scope; the token went with each page.
    let requests = web.requests();
    let token_request = requests.iter().find(|r| r.target == "/token").unwrap();
    let assertion = token_request
        .body
        .split('&')
        .find_map(|kv| kv.strip_prefix("assertion="))
        .expect("a JWT assertion");
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(assertion.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "boss@bakery.example");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/admin.directory.user.readonly"
    );
    let pages: Vec<_> = requests
        .iter()
        .filter(|r| r.target.starts_with("/admin/"))
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages
        .iter()
        .all(|r| r.authorization == "Bearer ya29.directory-1"));

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
        "userPrincipalName": mail.unwrap_or("room1@bakery.onmicrosoft.com"),
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
