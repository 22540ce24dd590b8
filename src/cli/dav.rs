//! `mailferry dav check|sync|verify|export`: contacts and calendars, from a
//! CardDAV/CalDAV server (or `.vcf`/`.ics` files) to another server (or to
//! files), through the engine's `mailferry::dav`.

use super::sides::read_password;
use anyhow::Context;
use clap::{Args, Subcommand};
use mailferry::auth::oauth::Issuer;
use mailferry::dav::graph::{Graph, GraphAuth};
use mailferry::dav::locate;
use mailferry::dav::{self, Auth, Files, Reach, Server, Source, Trust};
use mailferry::discover::DiscoverSettings;
use mailferry::endpoint::Proof;
use mailferry::provider::Provider;
use mailferry::secret::Secret;
use mailferry::state::State;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct DavArgs {
    #[command(subcommand)]
    pub(crate) command: DavCommand,
}

#[derive(Subcommand)]
pub(crate) enum DavCommand {
    /// Sign in to the contacts and calendar servers and show every address
    /// book and calendar, with where each will go. Changes nothing.
    Check(CheckArgs),
    /// Copy every address book and calendar from the source (1) to the
    /// destination (2). Safe to interrupt and re-run: nothing is copied twice.
    Sync(CopyArgs),
    /// Compare every contact and calendar entry of the source with its copy.
    Verify(CopyArgs),
    /// Write every address book and calendar of the source (1) to files:
    /// one .vcf per address book, one .ics per calendar.
    Export(ExportArgs),
}

#[derive(Args)]
pub(crate) struct SourceArgs {
    /// The source's contacts and calendars: the account's email address or
    /// its domain (the servers are found from the provider, the domain's
    /// RFC 6764 service records or its well-known addresses); a
    /// self-hosted server's kind and name (nextcloud:cloud.example.com,
    /// sogo:…, cpanel:…); or the server's https:// address (or one address
    /// book or calendar). Give it
    /// twice for separate contacts and calendar servers: --dav1 CONTACTS-URL
    /// --dav1 CALENDARS-URL. The password goes only to the servers' own
    /// domains.
    #[arg(
        long,
        value_name = "ADDRESS|URL",
        required_unless_present_any = ["files1", "graph1"],
        conflicts_with_all = ["files1", "graph1"]
    )]
    dav1: Vec<String>,
    /// The source is this Microsoft 365 mailbox (its address): its contact
    /// folders and calendars, read as vCard 4 and iCalendar.
    #[arg(long, value_name = "USER@DOMAIN", conflicts_with = "files1")]
    graph1: Option<String>,
    /// Sign in to the source Microsoft 365 as the organisation's app (as
    /// --clientcredentials2).
    #[arg(long, value_name = "TENANT", requires = "graph1")]
    clientcredentials1: Option<String>,
    /// Sign in in the browser as the account's owner: `microsoft` with
    /// --graph1, `google` with --dav1 (Google's contacts and calendars take
    /// no password; the sign-in asks for them only, is kept in the keychain
    /// apart from the mail's, and renews itself during the copy).
    #[arg(
        long,
        value_name = "PROVIDER",
        conflicts_with_all = ["clientcredentials1", "files1", "passfile1", "oauthaccesstoken1"]
    )]
    oauth1: Option<String>,
    /// Microsoft Graph's address (a test server's, for instance).
    #[arg(long, value_name = "URL", default_value = dav::graph::GRAPH_API)]
    graph_api: String,
    /// Contacts (.vcf) and calendars (.ics) kept in files, as the source: one
    /// file, or a folder of them (each file an address book or a calendar).
    #[arg(long, value_name = "PATH")]
    files1: Option<PathBuf>,
    /// The source account's user name (default: the email address --dav1 gave).
    #[arg(long, value_name = "USER")]
    user1: Option<String>,
    /// File whose first line is the source's password. Also read: the
    /// MAILFERRY_PASSWORD1 environment variable, then a prompt.
    #[arg(long, value_name = "FILE")]
    passfile1: Option<PathBuf>,
    /// File holding an OAuth access token for the source (sent as a bearer token).
    #[arg(long, value_name = "FILE", conflicts_with = "passfile1")]
    oauthaccesstoken1: Option<PathBuf>,
    /// Trust the certificate authorities in this PEM file (instead of the
    /// system's) for the source's contacts and calendar servers.
    #[arg(long, value_name = "FILE")]
    cafile1: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct DestArgs {
    /// The destination's contacts and calendars (as --dav1: an email
    /// address, a domain, or one or two https:// addresses).
    #[arg(
        long,
        value_name = "ADDRESS|URL",
        required_unless_present = "graph2",
        conflicts_with = "graph2"
    )]
    dav2: Vec<String>,
    #[command(flatten)]
    graph: GraphDest,
    /// The destination account's user name (default: the email address
    /// --dav2 gave).
    #[arg(long, value_name = "USER")]
    user2: Option<String>,
    /// File whose first line is the destination's password. Also read: the
    /// MAILFERRY_PASSWORD2 environment variable, then a prompt.
    #[arg(long, value_name = "FILE")]
    passfile2: Option<PathBuf>,
    /// File holding an OAuth access token for the destination.
    #[arg(long, value_name = "FILE", conflicts_with = "passfile2")]
    oauthaccesstoken2: Option<PathBuf>,
    /// Trust the certificate authorities in this PEM file (instead of the
    /// system's) for the destination's contacts and calendar servers.
    #[arg(long, value_name = "FILE")]
    cafile2: Option<PathBuf>,
}

/// Microsoft 365 (Microsoft Graph) as the destination.
#[derive(Args)]
pub(crate) struct GraphDest {
    /// The destination is this Microsoft 365 mailbox (its address): address
    /// books become its contact folders, calendars its calendars, each
    /// contact and event converted (what Outlook has no place for is listed).
    #[arg(long, value_name = "USER@DOMAIN")]
    graph2: Option<String>,
    /// Sign in to Microsoft 365 as the organisation's app (app-only): the
    /// tenant (its ID or domain); the app's ID and secret are read from
    /// MAILFERRY_OAUTH_CLIENT_ID and MAILFERRY_OAUTH_CLIENT_SECRET, as for
    /// the mail. Else --oauthaccesstoken2 gives a token.
    #[arg(long, value_name = "TENANT", requires = "graph2")]
    clientcredentials2: Option<String>,
    /// Sign in in the browser as the account's owner (`microsoft` with
    /// --graph2, `google` with --dav2, or an issuer's URL), as `--oauth2`
    /// does for the mail, asking for its contacts and calendars: the
    /// sign-in is kept in the keychain (apart from the mail's), and renews
    /// itself during the copy.
    #[arg(long, value_name = "PROVIDER", conflicts_with = "clientcredentials2")]
    oauth2: Option<String>,
    /// Create events without their attendees: Microsoft 365 emails an
    /// invitation to every attendee of an event it creates, even for a
    /// meeting long past.
    #[arg(long, requires = "graph2")]
    without_attendees: bool,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    graph: GraphDest,
    /// File holding an OAuth access token for the destination (Microsoft 365).
    #[arg(long, value_name = "FILE", requires = "graph2")]
    oauthaccesstoken2: Option<PathBuf>,
    /// The destination's contacts and calendars (optional here; as --dav1).
    #[arg(long, value_name = "ADDRESS|URL", conflicts_with = "graph2")]
    dav2: Vec<String>,
    /// The destination account's user name.
    #[arg(long, value_name = "USER", requires = "dav2")]
    user2: Option<String>,
    /// File whose first line is the destination's password.
    #[arg(long, value_name = "FILE", requires = "dav2")]
    passfile2: Option<PathBuf>,
    /// Trust the certificate authorities in this PEM file for the destination.
    #[arg(long, value_name = "FILE", requires = "dav2")]
    cafile2: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct CopyArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    dest: DestArgs,
    /// The progress file (default: the one named after the two accounts in
    /// MailFerry's data folder).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// The folder the files go to (created if missing).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs one `dav` command.
pub(crate) fn run(args: DavArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DavCommand::Check(a) => check(a),
        DavCommand::Sync(a) => sync(a),
        DavCommand::Verify(a) => verify(a),
        DavCommand::Export(a) => export(a),
    }
}

/// How a side signs in to its contacts and calendar servers: its
/// `--userN`, `--passfileN`, `--oauthaccesstokenN`, `--oauthN`, `--cafileN`.
struct SignInArgs<'a> {
    user: Option<&'a str>,
    passfile: Option<&'a std::path::Path>,
    token: Option<&'a std::path::Path>,
    /// `--oauthN`: the browser sign-in's issuer.
    oauth: Option<&'a str>,
    cafile: Option<&'a std::path::Path>,
}

fn sign_in(n: &str, url: &str, user: Option<&str>, how: &SignInArgs) -> anyhow::Result<Auth> {
    let SignInArgs {
        passfile,
        token,
        oauth,
        ..
    } = *how;
    if let Some(issuer) = oauth {
        let user = user.with_context(|| {
            format!("give the Google account's address with --dav{n} or --user{n}")
        })?;
        let issuer = Issuer::from_name(issuer).map_err(|e| anyhow::anyhow!("Google: {e}"))?;
        anyhow::ensure!(
            issuer.provider != Provider::Microsoft,
            "Microsoft 365's contacts and calendars are reached through Microsoft Graph: give \
             the mailbox with --graph{n} (and --oauth{n} microsoft)"
        );
        let proof = super::sides::google_dav_proof(&issuer, user)
            .map_err(|e| anyhow::anyhow!("Google: {e}"))?;
        return match proof {
            Proof::Renewable(source) => Ok(Auth::Renewable(source)),
            Proof::AccessToken(t) => Ok(Auth::Bearer(t.expose().clone())),
            Proof::Password(_) => anyhow::bail!("Google: the sign-in gave no token"),
        };
    }
    if let Some(path) = token {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --oauthaccesstoken{n} {}", path.display()))?;
        return Ok(Auth::Bearer(text.trim().to_owned()));
    }
    let user = user
        .with_context(|| format!("give the account's user name with --user{n}"))?
        .to_owned();
    let password = read_password(n, passfile, &user, url)?;
    Ok(Auth::Basic {
        user,
        password: password.expose().to_owned(),
    })
}

fn source(a: &SourceArgs) -> anyhow::Result<(Source, String)> {
    if let Some(path) = &a.files1 {
        let files = Files::open(path).map_err(|e| anyhow::anyhow!("source: {e}"))?;
        return Ok((Source::Files(files), format!("files {}", path.display())));
    }
    if let Some(user) = &a.graph1 {
        let graph = graph_side(
            "1",
            user,
            &a.graph_api,
            a.clientcredentials1.as_deref(),
            a.oauthaccesstoken1.as_deref(),
            a.oauth1.as_deref(),
        )?;
        let name = graph.name();
        return Ok((Source::Graph(graph), name));
    }
    let (server, name) = dav_side(
        "1",
        &a.dav1,
        &SignInArgs {
            user: a.user1.as_deref(),
            passfile: a.passfile1.as_deref(),
            token: a.oauthaccesstoken1.as_deref(),
            oauth: a.oauth1.as_deref(),
            cafile: a.cafile1.as_deref(),
        },
    )?;
    Ok((Source::Server(server), name))
}

/// The contacts and calendar servers of side `n` (`--davN` as given: an
/// email address or a domain, found and said on stderr; else its https://
/// addresses), signed in; and the side's name in the progress file. A
/// Google sign-in (`--oauthN`) goes to Google's servers only.
fn dav_side(n: &str, given: &[String], how: &SignInArgs) -> anyhow::Result<(Server, String)> {
    let side = if n == "1" { "source" } else { "destination" };
    let roots: &[String] = &how
        .cafile
        .map(|path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --cafile{n} {}", path.display()))
        })
        .transpose()?
        .into_iter()
        .collect::<Vec<_>>();
    if how.oauth.is_some() {
        if let Some(url) = given
            .iter()
            .find(|u| u.contains("://") && !locate::google_may_receive(u))
        {
            anyhow::bail!(
                "{side}: the Google sign-in (--oauth{n}) only goes to Google's contacts and \
                 calendars, and {url} is not at Google: give the account's address with \
                 --dav{n} instead"
            );
        }
    }
    let server = match given {
        [one] if !one.contains("://") => {
            let found = if how.oauth.is_some() {
                // Google's own addresses for the account, whatever its
                // domain says (a Google Workspace domain names no server).
                locate::google(one).with_context(|| {
                    format!(
                        "{side}: “{one}” is not an email address: MailFerry cannot find its \
                         Google contacts and calendars"
                    )
                })?
            } else {
                let settings = DiscoverSettings::from_env().map_err(|e| anyhow::anyhow!(e))?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                runtime
                    .block_on(locate::locate(one, &settings))
                    .map_err(|e| anyhow::anyhow!("{side}: {e}"))?
            };
            eprintln!("{side}: {}", found.words());
            let user = how.user.or(one.contains('@').then_some(one.trim()));
            let url = found.starts().first().cloned().unwrap_or_default();
            let auth = sign_in(n, &url, user, how)?;
            let server = found
                .connect(auth, roots)
                .map_err(|e| anyhow::anyhow!("{side}: {e}"))?;
            (server, user)
        }
        urls => {
            let first = urls.first().map(String::as_str).unwrap_or("");
            let auth = sign_in(n, first, how.user, how)?;
            let reach = Reach {
                extra_roots_pem: roots.to_vec(),
                addresses: Vec::new(),
            };
            let server = Server::connect_all(urls, auth, &Trust::default(), &reach)
                .map_err(|e| anyhow::anyhow!("{side}: {e}"))?;
            (server, how.user)
        }
    };
    let (server, user) = server;
    let name = format!("{}@{}", user.unwrap_or(""), server.origin());
    Ok((server, name))
}

/// A contacts and calendar server, or a Microsoft 365 mailbox.
enum Dest {
    Dav(Server),
    Graph(Graph),
}

/// The Microsoft 365 mailbox `user` at `api`, signed in as the
/// organisation's app or with an access token.
fn graph_side(
    n: &str,
    user: &str,
    api: &str,
    tenant: Option<&str>,
    token: Option<&std::path::Path>,
    oauth: Option<&str>,
) -> anyhow::Result<Graph> {
    if let Some(issuer) = oauth {
        let proof = super::sides::graph_proof(issuer, user)
            .map_err(|e| anyhow::anyhow!("Microsoft 365: {e}"))?;
        let auth = GraphAuth::signed_in(proof)
            .ok_or_else(|| anyhow::anyhow!("Microsoft 365: the sign-in gave no token"))?;
        return Graph::new(api, user, auth).map_err(|e| anyhow::anyhow!("Microsoft 365: {e}"));
    }
    let auth = match (tenant, token) {
        (_, Some(path)) => {
            let text = Secret::new(std::fs::read_to_string(path).with_context(|| {
                format!("cannot read --oauthaccesstoken{n} {}", path.display())
            })?);
            let token = text.expose().lines().next().unwrap_or("").trim().to_owned();
            anyhow::ensure!(
                !token.is_empty(),
                "--oauthaccesstoken{n} {}: the first line is empty",
                path.display()
            );
            GraphAuth::Token(Secret::new(token))
        }
        (Some(tenant), None) => {
            let (Ok(id), Ok(secret)) = (
                std::env::var("MAILFERRY_OAUTH_CLIENT_ID"),
                std::env::var("MAILFERRY_OAUTH_CLIENT_SECRET"),
            ) else {
                anyhow::bail!(
                    "--clientcredentials{n} needs the app's ID and secret in MAILFERRY_OAUTH_CLIENT_ID \
                     and MAILFERRY_OAUTH_CLIENT_SECRET"
                );
            };
            let app =
                mailferry::auth::grant::ClientCredentials::new(tenant, &id, Secret::new(secret))
                    .with_scope(mailferry::inventory::GRAPH_SCOPE);
            GraphAuth::App(mailferry::auth::grant::TokenSource::new(app))
        }
        (None, None) => anyhow::bail!(
            "sign in to Microsoft 365 with --oauth{n} microsoft (in the browser, as the mailbox's \
             owner), --clientcredentials{n} TENANT (the organisation's app) or \
             --oauthaccesstoken{n} FILE"
        ),
    };
    Graph::new(api, user, auth).map_err(|e| anyhow::anyhow!("Microsoft 365: {e}"))
}

impl GraphDest {
    /// The Microsoft 365 mailbox of --graph2, when given.
    fn open(&self, api: &str, token: Option<&std::path::Path>) -> anyhow::Result<Option<Graph>> {
        let graph = self.graph2.as_deref().map(|user| {
            graph_side(
                "2",
                user,
                api,
                self.clientcredentials2.as_deref(),
                token,
                self.oauth2.as_deref(),
            )
        });
        match graph.transpose()? {
            Some(g) if self.without_attendees => Ok(Some(g.without_attendees())),
            g => Ok(g),
        }
    }
}

fn dest_of(d: &DestArgs, api: &str) -> anyhow::Result<(Dest, String)> {
    if let Some(graph) = d.graph.open(api, d.oauthaccesstoken2.as_deref())? {
        let name = graph.name();
        return Ok((Dest::Graph(graph), name));
    }
    let (server, name) = dav_side(
        "2",
        &d.dav2,
        &SignInArgs {
            user: d.user2.as_deref(),
            passfile: d.passfile2.as_deref(),
            token: d.oauthaccesstoken2.as_deref(),
            oauth: d.graph.oauth2.as_deref(),
            cafile: d.cafile2.as_deref(),
        },
    )?;
    Ok((Dest::Dav(server), name))
}

fn kind_word(kind: dav::ObjectKind) -> &'static str {
    match kind {
        dav::ObjectKind::Contact => "address book",
        dav::ObjectKind::Calendar => "calendar",
    }
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let (source, _) = source(&a.source)?;
    if let Some(graph) = a
        .graph
        .open(&a.source.graph_api, a.oauthaccesstoken2.as_deref())?
    {
        let plans =
            dav::graph::plan(&source, &graph, None, true).map_err(|e| anyhow::anyhow!("{e}"))?;
        print_plans(&plans, a.json);
        return Ok(ExitCode::SUCCESS);
    }
    if a.dav2.is_empty() {
        let collections = source
            .collections()
            .map_err(|e| anyhow::anyhow!("source: {e}"))?;
        if a.json {
            let list: Vec<_> = collections
                .iter()
                .map(|c| json!({"href": c.href, "kind": kind_word(c.kind), "name": c.name}))
                .collect();
            println!("{}", json!({ "source": list }));
        } else {
            for c in &collections {
                println!("{} “{}” ({})", kind_word(c.kind), c.name, c.href);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (dest, _) = dav_side(
        "2",
        &a.dav2,
        &SignInArgs {
            user: a.user2.as_deref(),
            passfile: a.passfile2.as_deref(),
            token: None,
            oauth: a.graph.oauth2.as_deref(),
            cafile: a.cafile2.as_deref(),
        },
    )?;
    let plans = dav::plan(&source, &dest, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    print_plans(&plans, a.json);
    Ok(ExitCode::SUCCESS)
}

fn print_plans(plans: &[dav::CollectionPlan], as_json: bool) {
    if as_json {
        let list: Vec<_> = plans.iter().map(plan_json).collect();
        println!("{}", json!({ "plan": list }));
    } else {
        for p in plans {
            print_plan(p);
        }
    }
}

fn plan_json(p: &dav::CollectionPlan) -> serde_json::Value {
    json!({
        "source": p.source.href, "kind": kind_word(p.source.kind), "name": p.source.name,
        "objects": p.objects, "dest": p.dest, "dest_name": p.dest_name, "create": p.create,
        "note": p.note,
    })
}

fn print_plan(p: &dav::CollectionPlan) {
    let objects = match (p.source.kind, p.objects) {
        (dav::ObjectKind::Contact, 1) => "1 contact".to_owned(),
        (dav::ObjectKind::Contact, n) => format!("{n} contacts"),
        (dav::ObjectKind::Calendar, 1) => "1 entry".to_owned(),
        (dav::ObjectKind::Calendar, n) => format!("{n} entries"),
    };
    match &p.dest {
        Some(_) => println!(
            "{} “{}” ({objects}) → “{}”{}",
            kind_word(p.source.kind),
            p.source.name,
            p.dest_name,
            if p.create { " (new)" } else { "" }
        ),
        None => println!(
            "{} “{}” ({objects}) → nowhere",
            kind_word(p.source.kind),
            p.source.name
        ),
    }
    if let Some(note) = &p.note {
        println!("  Note: {note}");
    }
}

fn state_for(state: Option<PathBuf>, source: &str, dest: &str) -> anyhow::Result<PathBuf> {
    match state {
        Some(p) => Ok(p),
        None => super::default_state_path(&dav::job_name(source, dest)),
    }
}

fn open_state(path: &std::path::Path) -> anyhow::Result<State> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    Ok(State::open(path, super::unix_now())?)
}

fn sync(a: CopyArgs) -> anyhow::Result<ExitCode> {
    let (source, source_name) = source(&a.source)?;
    let (dest, dest_name) = dest_of(&a.dest, &a.source.graph_api)?;
    let mut state = open_state(&state_for(a.state, &source_name, &dest_name)?)?;
    let report = match &dest {
        Dest::Dav(server) => dav::sync(&source, server, &mut state),
        Dest::Graph(graph) => dav::graph::sync(&source, graph, &mut state),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if a.json {
        let list: Vec<_> = report
            .collections
            .iter()
            .map(|c| {
                json!({
                    "plan": plan_json(&c.plan), "copied": c.copied, "updated": c.updated,
                    "already": c.already, "gone_at_source": c.gone_at_source,
                    "refused": problems_json(&c.refused), "failed": problems_json(&c.failed),
                    "changed": problems_json(&c.changed),
                    "error": c.error,
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "collections": list, "complete": report.complete() })
        );
    } else {
        for c in &report.collections {
            print_plan(&c.plan);
            println!(
                "  copied {}, updated {}, already there {}{}",
                c.copied,
                c.updated,
                c.already,
                if c.gone_at_source > 0 {
                    format!(
                        ", {} deleted at the source after they were copied (kept at the destination)",
                        c.gone_at_source
                    )
                } else {
                    String::new()
                }
            );
            for p in c.refused.iter().chain(&c.failed) {
                println!("  Not copied: {}: {}", p.what, p.reason);
            }
            for p in &c.changed {
                println!("  Copied without: {}: {}", p.what, p.reason);
            }
            if let Some(e) = &c.error {
                println!("  Not copied at all: {e}");
            }
        }
        if report.complete() {
            println!("Everything carried over.");
        } else if report.temporary() {
            println!(
                "Some entries could not be copied this time: run the same command again later."
            );
        } else {
            println!("Some entries did not carry over: the reasons are above.");
        }
    }
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn problems_json(p: &[dav::ObjectProblem]) -> serde_json::Value {
    p.iter()
        .map(|p| json!({"what": p.what, "reason": p.reason}))
        .collect()
}

fn verify(a: CopyArgs) -> anyhow::Result<ExitCode> {
    let (source, source_name) = source(&a.source)?;
    let (dest, dest_name) = dest_of(&a.dest, &a.source.graph_api)?;
    let path = state_for(a.state, &source_name, &dest_name)?;
    let state = State::open_read_only(&path)?;
    let report = match &dest {
        Dest::Dav(server) => dav::verify(&source, server, state.as_ref()),
        Dest::Graph(graph) => dav::graph::verify(&source, graph, state.as_ref()),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let safe = report.safe_to_switch();
    if a.json {
        let list: Vec<_> = report
            .collections
            .iter()
            .map(|c| {
                json!({
                    "source": c.source.href, "name": c.source.name, "dest": c.dest,
                    "objects": c.objects, "identical": c.identical, "same_content": c.same_content,
                    "missing": problems_json(&c.missing), "different": problems_json(&c.different),
                    "error": c.error,
                })
            })
            .collect();
        println!("{}", json!({ "collections": list, "safe_to_switch": safe }));
    } else {
        for c in &report.collections {
            println!(
                "{} “{}”: {} of {} at the destination{}",
                kind_word(c.source.kind),
                c.source.name,
                c.identical + c.same_content,
                c.objects,
                if c.same_content > 0 && matches!(dest, Dest::Graph(_)) {
                    format!(
                        " ({} converted for Microsoft 365: names, subjects and times match)",
                        c.same_content
                    )
                } else if c.same_content > 0 {
                    format!(
                        " ({} stored in the server's own layout, same content)",
                        c.same_content
                    )
                } else {
                    String::new()
                }
            );
            for p in &c.missing {
                println!("  Missing: {}: {}", p.what, p.reason);
            }
            for p in &c.different {
                println!("  Different: {}: {}", p.what, p.reason);
            }
            if let Some(e) = &c.error {
                println!("  Not checked: {e}");
            }
        }
        if safe {
            println!("Safe to switch: every contact and calendar entry is at the destination.");
        } else {
            println!("Not safe to switch yet: see what is missing above, then run `mailferry dav sync` again.");
        }
    }
    Ok(if safe {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn export(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let (source, _) = source(&a.source)?;
    let files = dav::export(&source, &a.to).map_err(|e| anyhow::anyhow!("{e}"))?;
    let complete = files
        .iter()
        .all(|f| f.error.is_none() && f.failed.is_empty());
    if a.json {
        let list: Vec<_> = files
            .iter()
            .map(|f| {
                json!({
                    "source": f.source.href, "name": f.source.name, "path": f.path,
                    "objects": f.objects, "failed": problems_json(&f.failed), "error": f.error,
                })
            })
            .collect();
        println!("{}", json!({ "files": list, "complete": complete }));
    } else {
        for f in &files {
            match &f.path {
                Some(p) => println!(
                    "{} “{}”: {} entries → {}",
                    kind_word(f.source.kind),
                    f.source.name,
                    f.objects,
                    p.display()
                ),
                None => println!(
                    "{} “{}”: not written: {}",
                    kind_word(f.source.kind),
                    f.source.name,
                    f.error.as_deref().unwrap_or("")
                ),
            }
            for p in &f.failed {
                println!("  Not read: {}: {}", p.what, p.reason);
            }
        }
    }
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
