// SQLite storage of the queue: one row per job (array task), a row per rank placement, and the
// hosts taken out after a node failure.
#include "ionet/jobscripts/queue_db.h"

#include <sqlite3.h>

#include <cstring>

#include "ionet/error.h"

namespace ionet::jobscripts {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  array_job_id INTEGER NOT NULL DEFAULT 0,
  array_task_id INTEGER,
  array_max INTEGER NOT NULL DEFAULT 0,
  name TEXT NOT NULL, user TEXT NOT NULL,
  state TEXT NOT NULL, reason TEXT NOT NULL,
  submit_time REAL NOT NULL, start_time REAL NOT NULL DEFAULT 0, end_time REAL NOT NULL DEFAULT 0,
  nodes INTEGER NOT NULL, ntasks INTEGER NOT NULL, ntasks_per_node INTEGER NOT NULL,
  cpus_per_task INTEGER NOT NULL, gpus INTEGER NOT NULL, gpus_per_task INTEGER NOT NULL,
  mem_mb INTEGER NOT NULL, time_limit INTEGER NOT NULL,
  dependency TEXT NOT NULL, requeue INTEGER NOT NULL, signal TEXT NOT NULL,
  work_dir TEXT NOT NULL, submit_dir TEXT NOT NULL, submit_host TEXT NOT NULL,
  output TEXT NOT NULL, error TEXT NOT NULL, script TEXT NOT NULL,
  args BLOB NOT NULL, environment BLOB NOT NULL,
  checkpoint_dir TEXT NOT NULL, pool TEXT NOT NULL, max_restarts INTEGER,
  allocation TEXT NOT NULL DEFAULT '',
  shepherd_pid INTEGER NOT NULL DEFAULT 0, shepherd_start INTEGER NOT NULL DEFAULT 0,
  process_group INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER NOT NULL DEFAULT 0, exit_signal INTEGER NOT NULL DEFAULT 0,
  restarts INTEGER NOT NULL DEFAULT 0, cancel_requested INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_array ON jobs(array_job_id);
CREATE TABLE IF NOT EXISTS placements (
  job_id INTEGER NOT NULL, requeue INTEGER NOT NULL, restart INTEGER NOT NULL,
  rank INTEGER NOT NULL, host TEXT NOT NULL, gpus TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS placements_job ON placements(job_id);
CREATE TABLE IF NOT EXISTS down_hosts (host TEXT PRIMARY KEY, until REAL NOT NULL,
  reason TEXT NOT NULL);
)sql";

std::string joinNul(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    out += s;
    out += '\0';
  }
  return out;
}

std::vector<std::string> splitNul(const std::string& blob) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < blob.size(); ++i) {
    if (blob[i] == '\0') {
      out.push_back(blob.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string dependencyText(const std::vector<DependencyTerm>& terms) {
  std::string out;
  for (const auto& t : terms) {
    out += (out.empty() ? "" : ",") + t.kind;
    for (const auto& j : t.jobs) out += ":" + j;
  }
  return out;
}

std::string signalText(const std::optional<SignalSpec>& s) {
  if (!s) return "";
  return std::string(s->batchOnly ? "B:" : "") + signalName(s->signal) + "@" +
         std::to_string(s->secondsBefore);
}

// A prepared statement with positional binds and named column reads.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw Error(std::string("queue database: ") + sqlite3_errmsg(db) + " in: " + sql);
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bindBlob(int i, const std::string& v) {  // may hold NULs
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(std::string("queue database: ") + sqlite3_errmsg(db_));
  }
  void run() {
    while (step()) {
    }
  }
  bool has(const char* name) {
    column(nullptr);
    for (const auto& c : columns_) {
      if (c == name) return true;
    }
    return false;
  }
  int column(const char* name) {
    if (columns_.empty()) {
      for (int i = 0; i < sqlite3_column_count(stmt_); ++i) {
        columns_.emplace_back(sqlite3_column_name(stmt_, i));
      }
    }
    if (!name) return -1;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      if (columns_[i] == name) return static_cast<int>(i);
    }
    throw Error(std::string("queue database: no column ") + name);
  }
  std::int64_t integer(const char* name) { return sqlite3_column_int64(stmt_, column(name)); }
  double real(const char* name) { return sqlite3_column_double(stmt_, column(name)); }
  bool isNull(const char* name) { return sqlite3_column_type(stmt_, column(name)) == SQLITE_NULL; }
  std::string text(const char* name) {
    const int c = column(name);
    const void* p = sqlite3_column_blob(stmt_, c);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, c)))
             : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::vector<std::string> columns_;
};

JobRecord readJob(Statement& s) {
  JobRecord j;
  j.id = s.integer("id");
  j.arrayJobId = s.integer("array_job_id");
  if (!s.isNull("array_task_id"))
    j.arrayTaskId = static_cast<std::uint32_t>(s.integer("array_task_id"));
  j.arrayMaxRunning = static_cast<std::uint32_t>(s.integer("array_max"));
  j.name = s.text("name");
  j.user = s.text("user");
  j.state = parseState(s.text("state"));
  j.reason = s.text("reason");
  j.submitTime = s.real("submit_time");
  j.startTime = s.real("start_time");
  j.endTime = s.real("end_time");
  j.nodes = static_cast<std::uint32_t>(s.integer("nodes"));
  j.ntasks = static_cast<std::uint32_t>(s.integer("ntasks"));
  j.ntasksPerNode = static_cast<std::uint32_t>(s.integer("ntasks_per_node"));
  j.cpusPerTask = static_cast<std::uint32_t>(s.integer("cpus_per_task"));
  j.gpus = static_cast<std::uint32_t>(s.integer("gpus"));
  j.gpusPerTask = static_cast<std::uint32_t>(s.integer("gpus_per_task"));
  j.memMegabytes = static_cast<std::uint64_t>(s.integer("mem_mb"));
  j.timeLimitSeconds = static_cast<std::uint64_t>(s.integer("time_limit"));
  if (auto d = s.text("dependency"); !d.empty()) j.dependency = parseDependency(d);
  j.requeue = s.integer("requeue") != 0;
  if (auto sig = s.text("signal"); !sig.empty()) j.signal = parseSignalSpec(sig);
  j.workDir = s.text("work_dir");
  j.submitDir = s.text("submit_dir");
  j.submitHost = s.text("submit_host");
  j.output = s.text("output");
  j.error = s.text("error");
  j.scriptPath = s.text("script");
  if (s.has("environment")) {  // only a whole-record read carries the big columns
    j.args = splitNul(s.text("args"));
    j.environment = splitNul(s.text("environment"));
  }
  j.checkpointDir = s.text("checkpoint_dir");
  j.pool = s.text("pool");
  if (!s.isNull("max_restarts"))
    j.maxRestarts = static_cast<std::uint32_t>(s.integer("max_restarts"));
  if (auto a = s.text("allocation"); !a.empty()) j.allocation = parseAllocation(a);
  j.shepherdPid = s.integer("shepherd_pid");
  j.shepherdStart = s.integer("shepherd_start");
  j.processGroup = s.integer("process_group");
  j.exitCode = static_cast<int>(s.integer("exit_code"));
  j.exitSignal = static_cast<int>(s.integer("exit_signal"));
  j.restarts = static_cast<std::uint32_t>(s.integer("restarts"));
  j.cancelRequested = s.integer("cancel_requested") != 0;
  return j;
}

// Every column but the script's arguments and environment (kilobytes per job): what listing
// and scheduling read. QueueDb::job() reads the whole record.
constexpr const char* kListColumns =
    "id, array_job_id, array_task_id, array_max, name, user, state, reason, submit_time, "
    "start_time, end_time, nodes, ntasks, ntasks_per_node, cpus_per_task, gpus, gpus_per_task, "
    "mem_mb, time_limit, dependency, requeue, signal, work_dir, submit_dir, submit_host, output, "
    "error, script, checkpoint_dir, pool, max_restarts, allocation, shepherd_pid, "
    "shepherd_start, process_group, exit_code, exit_signal, restarts, cancel_requested";

}  // namespace

QueueDb::QueueDb(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Error("cannot open the queue database " + path + ": " + why);
  }
  // Commands and the daemon write concurrently: wait for each other rather than fail.
  sqlite3_busy_timeout(db_, 30000);
  char* err = nullptr;
  const std::string setup =
      std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") + kSchema;
  if (sqlite3_exec(db_, setup.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    sqlite3_close(db_);
    throw Error("queue database " + path + ": " + why);
  }
}

QueueDb::~QueueDb() { sqlite3_close(db_); }

void QueueDb::transaction(const std::function<void()>& body) {
  Statement(db_, "BEGIN IMMEDIATE").run();
  try {
    body();
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  Statement(db_, "COMMIT").run();
}

std::int64_t QueueDb::insert(std::vector<JobRecord>& jobs) {
  std::int64_t first = 0;
  for (auto& j : jobs) {
    Statement s(db_, R"sql(INSERT INTO jobs (array_job_id, array_task_id, array_max,
      name, user, state, reason, submit_time, nodes, ntasks, ntasks_per_node, cpus_per_task, gpus,
      gpus_per_task, mem_mb, time_limit, dependency, requeue, signal, work_dir, submit_dir,
      submit_host, output, error, script, args, environment, checkpoint_dir, pool, max_restarts)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?))sql");
    s.bind(1, first);
    if (j.arrayTaskId) {
      s.bind(2, static_cast<std::int64_t>(*j.arrayTaskId));
    } else {
      s.bindNull(2);
    }
    s.bind(3, static_cast<std::int64_t>(j.arrayMaxRunning));
    s.bind(4, j.name).bind(5, j.user).bind(6, stateName(j.state)).bind(7, j.reason);
    s.bind(8, j.submitTime).bind(9, static_cast<std::int64_t>(j.nodes));
    s.bind(10, static_cast<std::int64_t>(j.ntasks))
        .bind(11, static_cast<std::int64_t>(j.ntasksPerNode));
    s.bind(12, static_cast<std::int64_t>(j.cpusPerTask))
        .bind(13, static_cast<std::int64_t>(j.gpus));
    s.bind(14, static_cast<std::int64_t>(j.gpusPerTask));
    s.bind(15, static_cast<std::int64_t>(j.memMegabytes));
    s.bind(16, static_cast<std::int64_t>(j.timeLimitSeconds));
    s.bind(17, dependencyText(j.dependency)).bind(18, std::int64_t{j.requeue});
    s.bind(19, signalText(j.signal)).bind(20, j.workDir).bind(21, j.submitDir);
    s.bind(22, j.submitHost).bind(23, j.output).bind(24, j.error).bind(25, j.scriptPath);
    s.bindBlob(26, joinNul(j.args)).bindBlob(27, joinNul(j.environment));
    s.bind(28, j.checkpointDir).bind(29, j.pool);
    if (j.maxRestarts) {
      s.bind(30, static_cast<std::int64_t>(*j.maxRestarts));
    } else {
      s.bindNull(30);
    }
    s.run();
    j.id = sqlite3_last_insert_rowid(db_);
    if (first == 0) {
      first = j.id;
      if (j.arrayTaskId) {
        Statement(db_, "UPDATE jobs SET array_job_id = ? WHERE id = ?")
            .bind(1, first)
            .bind(2, first)
            .run();
      }
    }
    j.arrayJobId = j.arrayTaskId ? first : 0;
  }
  return first;
}

std::optional<JobRecord> QueueDb::job(std::int64_t id) {
  Statement s(db_, "SELECT * FROM jobs WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return readJob(s);
}

std::vector<JobRecord> QueueDb::jobs(const JobFilter& filter) {
  std::string sql = std::string("SELECT ") + kListColumns + " FROM jobs";
  std::vector<std::string> where;
  std::vector<std::string> binds;
  auto inList = [&](const std::string& column, const std::set<std::string>& values) {
    std::string clause = column + " IN (";
    for (std::size_t i = 0; i < values.size(); ++i) clause += i ? ",?" : "?";
    where.push_back(clause + ")");
    binds.insert(binds.end(), values.begin(), values.end());
  };
  if (!filter.states.empty()) {
    std::set<std::string> names;
    for (auto s : filter.states) names.insert(stateName(s));
    inList("state", names);
  }
  if (!filter.users.empty()) inList("user", filter.users);
  if (!filter.names.empty()) inList("name", filter.names);
  if (!filter.ids.empty()) {
    // "12": job 12 or every task of array 12; "12_3": task 3 of array 12.
    std::string any;
    for (const auto& id : filter.ids) {
      const auto us = id.find('_');
      const bool valid =
          !id.empty() && id.find_first_not_of("0123456789_") == std::string::npos && us != 0 &&
          (us == std::string::npos || us + 1 < id.size()) &&
          id.find('_', us == std::string::npos ? id.size() : us + 1) == std::string::npos;
      if (!valid) continue;
      any += any.empty() ? "(" : " OR ";
      if (us == std::string::npos) {
        any += "id = ? OR array_job_id = ?";
        binds.push_back(id);
        binds.push_back(id);
      } else {
        any += "(array_job_id = ? AND array_task_id = ?)";
        binds.push_back(id.substr(0, us));
        binds.push_back(id.substr(us + 1));
      }
    }
    where.push_back(any.empty() ? "0" : any + ")");
  }
  for (std::size_t i = 0; i < where.size(); ++i) sql += (i ? " AND " : " WHERE ") + where[i];
  sql += " ORDER BY id";
  Statement s(db_, sql.c_str());
  for (std::size_t i = 0; i < binds.size(); ++i) s.bind(static_cast<int>(i + 1), binds[i]);
  std::vector<JobRecord> out;
  while (s.step()) out.push_back(readJob(s));
  return out;
}

std::vector<JobRecord> QueueDb::active() {
  return jobs({{JobState::kPending, JobState::kRunning}, {}, {}, {}});
}

std::size_t QueueDb::activeCount() {
  Statement s(db_, "SELECT COUNT(*) AS n FROM jobs WHERE state IN ('PENDING','RUNNING')");
  s.step();
  return static_cast<std::size_t>(s.integer("n"));
}

std::vector<JobRecord> QueueDb::jobsNamed(const std::string& id) {
  std::vector<JobRecord> out;
  const auto us = id.find('_');
  if (us != std::string::npos) {
    const std::string sql = std::string("SELECT ") + kListColumns +
                            " FROM jobs WHERE array_job_id = ? AND array_task_id = ?";
    Statement s(db_, sql.c_str());
    s.bind(1, static_cast<std::int64_t>(std::stoll(id.substr(0, us))))
        .bind(2, static_cast<std::int64_t>(std::stoll(id.substr(us + 1))));
    while (s.step()) out.push_back(readJob(s));
    return out;
  }
  const std::int64_t n = std::stoll(id);
  const std::string sql = std::string("SELECT ") + kListColumns +
                          " FROM jobs WHERE id = ? OR array_job_id = ? ORDER BY id";
  Statement s(db_, sql.c_str());
  s.bind(1, n).bind(2, n);
  while (s.step()) out.push_back(readJob(s));
  return out;
}

bool QueueDb::sameNameOlderActive(const JobRecord& job) {
  Statement s(db_,
              "SELECT COUNT(*) AS n FROM jobs WHERE name = ? AND user = ? AND id < ? AND "
              "state IN ('PENDING','RUNNING')");
  s.bind(1, job.name).bind(2, job.user).bind(3, job.id);
  s.step();
  return s.integer("n") > 0;
}

std::uint32_t QueueDb::runningTasks(std::int64_t arrayJobId) {
  Statement s(db_, "SELECT COUNT(*) AS n FROM jobs WHERE array_job_id = ? AND state = 'RUNNING'");
  s.bind(1, arrayJobId);
  s.step();
  return static_cast<std::uint32_t>(s.integer("n"));
}

void QueueDb::update(const JobRecord& j) {
  Statement s(db_, R"sql(UPDATE jobs SET state=?, reason=?, start_time=?, end_time=?,
    allocation=?, shepherd_pid=?, shepherd_start=?, process_group=?, exit_code=?, exit_signal=?,
    restarts=?, cancel_requested=? WHERE id=?)sql");
  s.bind(1, stateName(j.state)).bind(2, j.reason).bind(3, j.startTime).bind(4, j.endTime);
  s.bind(5, formatAllocation(j.allocation)).bind(6, j.shepherdPid).bind(7, j.shepherdStart);
  s.bind(8, j.processGroup).bind(9, std::int64_t{j.exitCode}).bind(10, std::int64_t{j.exitSignal});
  s.bind(11, static_cast<std::int64_t>(j.restarts)).bind(12, std::int64_t{j.cancelRequested});
  s.bind(13, j.id);
  s.run();
}

void QueueDb::setPendingReasons(const std::vector<std::pair<std::int64_t, std::string>>& reasons) {
  if (reasons.empty()) return;
  transaction([&] {
    for (const auto& [id, reason] : reasons) {
      Statement s(db_, "UPDATE jobs SET reason = ? WHERE id = ? AND state = 'PENDING'");
      s.bind(1, reason).bind(2, id).run();
    }
  });
}

void QueueDb::setScript(std::int64_t firstId, const std::string& path) {
  Statement s(db_, "UPDATE jobs SET script = ? WHERE id = ? OR array_job_id = ?");
  s.bind(1, path).bind(2, firstId).bind(3, firstId).run();
}

void QueueDb::addPlacements(const std::vector<RankPlacement>& ranks) {
  for (const auto& r : ranks) {
    Statement s(db_, "INSERT INTO placements VALUES (?,?,?,?,?,?)");
    s.bind(1, r.jobId).bind(2, static_cast<std::int64_t>(r.requeue));
    s.bind(3, static_cast<std::int64_t>(r.restart)).bind(4, static_cast<std::int64_t>(r.rank));
    s.bind(5, r.host).bind(6, r.gpus).run();
  }
}

std::vector<RankPlacement> QueueDb::placements(std::int64_t jobId) {
  Statement s(db_, "SELECT * FROM placements WHERE job_id = ? ORDER BY requeue, restart, rank");
  s.bind(1, jobId);
  std::vector<RankPlacement> out;
  while (s.step()) {
    out.push_back({s.integer("job_id"), static_cast<std::uint32_t>(s.integer("requeue")),
                   static_cast<std::uint32_t>(s.integer("restart")),
                   static_cast<std::uint32_t>(s.integer("rank")), s.text("host"), s.text("gpus")});
  }
  return out;
}

std::map<std::string, double> QueueDb::downHosts(double now) {
  Statement s(db_, "SELECT host, until FROM down_hosts WHERE until > ?");
  s.bind(1, now);
  std::map<std::string, double> out;
  while (s.step()) out[s.text("host")] = s.real("until");
  return out;
}

void QueueDb::setHostDown(const std::string& host, double until, const std::string& reason) {
  Statement s(db_, "INSERT OR REPLACE INTO down_hosts VALUES (?,?,?)");
  s.bind(1, host).bind(2, until).bind(3, reason).run();
}

}  // namespace ionet::jobscripts
