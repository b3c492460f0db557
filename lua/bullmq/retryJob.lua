-- retryJob: put a failed active job straight back to wait/prioritized, no
-- backoff delay (docs/bullmq.md §4.7).
-- @key active           queue
-- @key wait             queue
-- @key paused           queue
-- @key jobKey           key     the job's hash
-- @key meta             queue
-- @key events           queue
-- @key delayed          queue
-- @key prioritized      queue
-- @key pc               queue
-- @key marker           queue
-- @key stalled          queue
-- @arg prefix           base
-- @arg now              int     now (ms)
-- @arg pushCmd          str     "LPUSH" | "RPUSH" (lifo)
-- @arg jobId            str
-- @arg token            str
-- @arg fields           bin     msgpack flat [field, value, ...] to write first, or ""
-- Reply: 0 | -1 no job | -2 no lock | -3 not active | -6 lock mismatch
--@include core
--@include events
--@include gate
--@include enqueue
--@include promote

local jobKey, jobId = KEYS[4], ARGV[4]
local q = {
  active = KEYS[1], wait = KEYS[2], paused = KEYS[3], meta = KEYS[5],
  events = KEYS[6], delayed = KEYS[7], prioritized = KEYS[8], pc = KEYS[9],
  marker = KEYS[10],
}

-- Due delayed jobs go first, as on every fetch.
promoteDueJobs(q, readGate(q.meta, q.active), ARGV[1], ARGV[2])

if rcall("EXISTS", jobKey) == 0 then return -1 end
local rc = releaseJobLock(jobKey, KEYS[11], ARGV[5], jobId)
if rc < 0 then return rc end

applyPackedFields(jobKey, ARGV[6])

if rcall("LREM", q.active, -1, jobId) < 1 then return -3 end

local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
local gate = readGate(q.meta, q.active) -- one fewer active job now
if priority == 0 then
  pushReady(q, gate, ARGV[3] == "RPUSH" and "RPUSH" or "LPUSH", jobId)
else
  addPrioritized(q, gate, priority, jobId)
end

rcall("HINCRBY", jobKey, "atm", 1)
rcall("XADD", q.events, "MAXLEN", "~", eventsCap(q.meta), "*", "event", "waiting",
  "jobId", jobId, "prev", "active")
return 0
