//! Command-line arguments (clap derive types only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// opl: the operating layer for AI agents.
///
/// Validates, renders and explains a git repository of layered TOML files that configures AI
/// agents: global/ (every agent), clients/<client>/ (one client or department) and
/// agents/<agent>.toml (one agent).
#[derive(Debug, Parser)]
#[command(name = "opl", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The config repository root (the folder holding opl.toml). Default: the nearest
    /// opl.toml at or above the current directory.
    #[arg(short = 'C', long = "repo", global = true, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// When to use colour: auto (a terminal without NO_COLOR), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

/// When to colour output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every file, layer and agent; report every finding.
    ///
    /// With --staged (the pre-commit hook), only what the next commit changes: the agents whose
    /// files are staged, and the agents below what a staged change to global/ or a client
    /// changed (a client's file: its agents; a global value a client overrides: not that
    /// client's). Agents the change does not reach have the findings they had. --all checks
    /// the whole index.
    ///
    /// Exit status: 0 clean (warnings allowed), 1 findings, 2 usage or I/O failure.
    ///
    /// Example: opl validate --format json
    #[command(after_long_help = crate::diagnostic::codes_help())]
    Validate(ValidateArgs),
    /// Print the effective configuration of an agent, with its digest.
    ///
    /// Example: opl render support-bot --explain
    ///          opl render --all --out rendered/
    Render(RenderArgs),
    /// Show where one key of an agent's effective config came from.
    ///
    /// Example: opl explain support-bot policy.tools.allow
    Explain(ExplainArgs),
    /// Create a small, valid config repository.
    ///
    /// Example: opl init my-agents
    Init(InitArgs),
    /// What changes for every agent between two states, and which changes widen what it may do.
    ///
    /// No revision: HEAD to the work tree. --staged: HEAD to the index. One revision: it to the
    /// work tree. Two: the first to the second.
    ///
    /// A diff of shared layers keeps what it learns of agent files in
    /// <git dir>/opl/agents-v1.json, a disposable index: delete it at any time.
    ///
    /// Example: opl diff main HEAD --format markdown
    Diff(DiffArgs),
    /// May an agent perform an action with these arguments, and who must approve?
    ///
    /// Exit status: 0 whenever a decision was made (whatever it is), 2 for usage errors.
    ///
    /// Example: opl decide support-bot shopify.create_refund --arg amount=900
    Decide(DecideArgs),
    /// Run the policy tests: the [[case]] and [[invariant]] tables of tests/**/*.toml.
    ///
    /// Exit status: 0 all pass, 1 any failure, 2 when a test file itself is wrong.
    ///
    /// Example: opl test --format junit > opl-tests.xml
    Test(TestArgs),
    /// What can our agents actually do: every agent and action, with the level it gets when no
    /// conditional rule applies (base), when all do (max), and the conditions between.
    ///
    /// Example: opl access --client acme-retail --format csv
    Access(AccessArgs),
    /// Write an agent's configuration for the runtime it runs in (Claude, Codex, OpenAI):
    /// its MCP servers, the tools it uses as the allow-list, per tool the approval its policy
    /// requires, its model and instructions. What a runtime cannot express is lowered to the
    /// nearest stricter form and reported; a deny it cannot express fails the export.
    ///
    /// Exit status: 0 written (or, with --check, nothing drifted), 1 an agent refused, a deny
    /// the runtime cannot express, or a file drifted; 2 usage or I/O failure.
    ///
    /// Example: opl export support-bot --target claude --out deploy/support-bot
    Export(ExportArgs),
    /// The CI gate: validate, and with --base report the blast radius and widening changes.
    ///
    /// With --base, keeps what it learns of agent files in <git dir>/opl/agents-v1.json, as
    /// `opl diff` does.
    ///
    /// Example: opl check --base origin/main --deny-widening --format github
    #[command(after_long_help = crate::diagnostic::codes_help())]
    Check(CheckArgs),
    /// Install or remove the git pre-commit hook that runs `opl validate --staged`.
    ///
    /// Example: opl hook install --chain
    Hook(HookArgs),
    /// The commits that changed an agent's effective config, even from global/ or a client.
    ///
    /// Keeps what changed between commits in <git dir>/opl/history-v3.bin and the commits it
    /// listed in <git dir>/opl/commits-v1.bin, disposable indexes: delete them at any time.
    ///
    /// Example: opl log support-bot policy.tools -n 5
    Log(LogArgs),
    /// Who set each effective value of an agent: commit, author, date and file:line.
    ///
    /// Keeps the history cache and the commit table in <git dir>/opl/, as `opl log` does.
    ///
    /// Example: opl blame support-bot model
    Blame(BlameArgs),
    /// The commits at which an agent's rendered document had a digest.
    ///
    /// Keeps the history cache and the commit table in <git dir>/opl/, as `opl log` does.
    ///
    /// Example: opl whence support-bot sha256:9a49c9b9...
    Whence(WhenceArgs),
    /// Every commit of a range with the agents it changed, the keys, and widening changes.
    ///
    /// Keeps the agents each commit changed in <git dir>/opl/audit-v2.json, a disposable index:
    /// delete it at any time.
    ///
    /// Example: opl audit main~50..main --format csv
    Audit(AuditArgs),
    /// One row per agent: owner, model, systems, actions, approvals, memory, escalation, digest.
    ///
    /// Keeps each agent's last change in <git dir>/opl/last-change-v2.json and the commits it
    /// listed in <git dir>/opl/commits-v1.bin, disposable indexes: delete them at any time.
    ///
    /// Example: opl inventory --client acme-retail --format csv
    Inventory(InventoryArgs),
    /// Print a CODEOWNERS file from each layer's meta.owner.
    ///
    /// Example: opl codeowners > .github/CODEOWNERS
    Codeowners(CodeownersArgs),
    /// Print global, clients and agents with how many values each layer sets.
    ///
    /// Example: opl graph --format mermaid
    Graph(GraphArgs),
    /// Print shell completions.
    ///
    /// Example: opl completions bash > /etc/bash_completion.d/opl
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    ///
    /// Example: opl man | man -l -
    Man,
    /// Print the JSON Schema of a layer file or of the rendered document.
    ///
    /// Example: opl schema layer > schemas/layer.schema.json
    Schema(SchemaArgs),
}

/// Output formats for findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FindingsFormat {
    Human,
    Json,
}

/// Which state of the config repository to read.
#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// Read a revision (branch, tag, sha, HEAD~3) through git instead of the work tree.
    #[arg(long, value_name = "REV", conflicts_with = "staged")]
    pub rev: Option<String>,
    /// Read the git index (what the next commit will hold).
    #[arg(long)]
    pub staged: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// With --staged: validate every agent, not only those the staged changes affect.
    #[arg(long)]
    pub all: bool,
    /// Validate only these agents (and the layers they inherit). Default: everything.
    #[arg(value_name = "AGENT")]
    pub agents: Vec<String>,
    /// human, json, or a format CI systems read (github annotations, SARIF, JUnit XML).
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Formats of the rendered document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DocFormat {
    Toml,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The agent to render.
    #[arg(
        value_name = "AGENT",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub agent: Option<String>,
    /// Render every agent into --out DIR (one file per agent and index.json).
    #[arg(long, requires = "out")]
    pub all: bool,
    /// Directory for --all. Created when absent.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace files that already exist in --out.
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value_t = DocFormat::Toml)]
    pub format: DocFormat,
    /// Show where every value came from (file, line, layer) and what it shadowed.
    #[arg(long, conflicts_with = "all")]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The agent.
    pub agent: String,
    /// A reference path, e.g. model.provider or instructions.fragments[id=org.safety].
    pub key: String,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the repository (default: the current directory).
    pub dir: Option<PathBuf>,
}

/// Which JSON Schema to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    Layer,
    Effective,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[arg(value_enum, default_value_t = SchemaKind::Layer)]
    pub kind: SchemaKind,
}

/// Output formats of `opl diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    Markdown,
    Patch,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The revision to compare from (default: HEAD).
    pub from: Option<String>,
    /// The revision to compare to (default: the work tree, or the index with --staged).
    pub to: Option<String>,
    /// Compare HEAD with the index.
    #[arg(long, conflicts_with = "to")]
    pub staged: bool,
    /// Only these agents (repeatable).
    #[arg(long = "agent", value_name = "AGENT")]
    pub agents: Vec<String>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
    /// Exit 1 when any agent changed.
    #[arg(long)]
    pub exit_code: bool,
    /// Exit 1, with a report, when any effective config changed (for refactors).
    #[arg(long)]
    pub expect_noop: bool,
}

/// Output formats of a findings report (`opl validate`, `opl check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    Github,
    Sarif,
    Junit,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The revision the change is based on (a pull request's target).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// What to check (default: the work tree).
    #[command(flatten)]
    pub source: SourceArgs,
    /// Fail when any change widens what an agent may do (needs --base).
    #[arg(long, requires = "base")]
    pub deny_widening: bool,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The agent.
    pub agent: String,
    /// The action, `connection.tool`.
    pub action: String,
    /// An argument: NAME=VALUE, VALUE as JSON when it parses (`amount=900` is a number, `note=hi`
    /// a string); a dotted NAME builds nested objects (`refund.amount=900`).
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    pub args: Vec<String>,
    /// All arguments as one JSON object (merged under the --arg values).
    #[arg(long, value_name = "JSON")]
    pub args_json: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
}

/// Output formats of `opl test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Human,
    Json,
    Junit,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Only these test files (paths relative to the config root). Default: tests/**/*.toml.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(long, value_enum, default_value_t = TestFormat::Human)]
    pub format: TestFormat,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The agent to export.
    #[arg(
        value_name = "AGENT",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub agent: Option<String>,
    /// Export every agent, one folder per agent under --out (or compare under --check).
    #[arg(long)]
    pub all: bool,
    /// The runtime to write for.
    #[arg(long, value_name = "TARGET", value_parser = clap::builder::PossibleValuesParser::new(crate::export::target_names()))]
    pub target: String,
    /// Where to write (created when absent). Default: the current directory for one agent;
    /// required with --all.
    #[arg(long, value_name = "DIR", conflicts_with = "check")]
    pub out: Option<PathBuf>,
    /// Replace files that already exist.
    #[arg(long, conflicts_with = "check")]
    pub force: bool,
    /// Export in memory and compare with the files in DIR: exit 1 with the difference when a
    /// file drifted (edited by hand, or the config changed since). The revision recorded in the
    /// files is not compared; the digest is.
    #[arg(long, value_name = "DIR")]
    pub check: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
}

/// Output formats of `opl access`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccessFormat {
    Table,
    Json,
    Csv,
    Markdown,
    /// Agents x actions, one letter per level.
    Matrix,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Only the agents of this client.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// Only these agents.
    #[arg(long = "agent", value_name = "AGENT")]
    pub agents: Vec<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(long, value_enum, default_value_t = AccessFormat::Table)]
    pub format: AccessFormat,
    /// Compare with a committed CSV snapshot (`opl access --format csv > FILE`): exit 1 with the
    /// difference when who can do what changed.
    #[arg(long, value_name = "FILE", conflicts_with = "format")]
    pub check: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    pub action: HookAction,
}

#[derive(Debug, Subcommand)]
pub enum HookAction {
    /// Write .git/hooks/pre-commit (refuses when one exists, unless --chain).
    Install {
        /// Keep an existing hook and run it before opl.
        #[arg(long)]
        chain: bool,
    },
    /// Remove the hook opl wrote (and restore a chained one).
    Uninstall,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// The agent.
    pub agent: String,
    /// Only changes to this key path and everything under it.
    pub key: Option<String>,
    /// Walk from this revision (default: HEAD).
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// At most N commits.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    pub max: Option<usize>,
    /// Only commits at or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Follow only the first parent of merges.
    #[arg(long)]
    pub first_parent: bool,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct BlameArgs {
    /// The agent.
    pub agent: String,
    /// Only leaves under this key path.
    pub key: Option<String>,
    /// Blame the values at this revision (default: the work tree, whose uncommitted values are
    /// "not committed yet").
    #[arg(long, value_name = "REV", conflicts_with = "staged")]
    pub rev: Option<String>,
    /// Blame the values in the index.
    #[arg(long)]
    pub staged: bool,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct WhenceArgs {
    /// The agent.
    pub agent: String,
    /// A digest as `opl render` prints it (sha256:...).
    pub digest: String,
    /// Walk from this revision (default: HEAD).
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Output formats of `opl audit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Human,
    Json,
    Csv,
    Markdown,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A range `A..B`, or a revision to walk back from (default: the whole history of HEAD).
    pub range: Option<String>,
    /// Only commits at or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    #[arg(long, value_enum, default_value_t = AuditFormat::Human)]
    pub format: AuditFormat,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Output formats of `opl inventory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InventoryFormat {
    Table,
    Json,
    Csv,
    Markdown,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only the agents of this client.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    #[arg(long, value_enum, default_value_t = InventoryFormat::Table)]
    pub format: InventoryFormat,
}

/// Output formats of `opl graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

#[derive(Debug, Args)]
pub struct CodeownersArgs {
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
