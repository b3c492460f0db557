-- moveToDelayed: move an active job to the delayed set (retry with backoff,
-- or the processor's own moveToDelayed), optionally fetching the next job
-- (docs/bullmq.md §4.8).
-- @key marker           queue
-- @key active           queue
-- @key prioritized      queue
-- @key delayed          queue
-- @key jobKey           key     the job's hash
-- @key events           queue
-- @key meta             queue
-- @key stalled          queue
-- @key wait             queue
-- @key limiter          queue
-- @key pc               queue
-- @arg prefix           base
-- @arg now              int     now (ms)
-- @arg jobId            str
-- @arg token            str
-- @arg delay            str     delay (ms, relative), as Node prints the number
-- @arg skipAttempt      str     "1" | "0"
-- @arg fields           bin     msgpack flat [field, value, ...] to write first, or ""
-- @arg fetchNext        str     "1" | "0"
-- @arg opts             bin     msgpack { token, lockDuration, limiter?, name? } or ""
-- Reply: 0 | a next-job reply carrying a job (only when fetchNext) |
--        -1 no job | -2 no lock | -3 not active | -6 lock mismatch
--@include core
--@include events
--@include enqueue
--@include fetch

local jobKey, jobId, now = KEYS[5], ARGV[3], ARGV[2]
local q = {
  marker = KEYS[1], active = KEYS[2], prioritized = KEYS[3], delayed = KEYS[4],
  events = KEYS[6], meta = KEYS[7], wait = KEYS[9], limiter = KEYS[10], pc = KEYS[11],
  paused = ARGV[1] .. "paused", -- not a declared key (as in 6.7.0); the target rule needs it
}

if rcall("EXISTS", jobKey) == 0 then return -1 end
local rc = releaseJobLock(jobKey, KEYS[8], ARGV[4], jobId)
if rc < 0 then return rc end

applyPackedFields(jobKey, ARGV[7])

if rcall("LREM", q.active, -1, jobId) < 1 then return -3 end

local score, dueMs = delayedScoreFor(q.delayed, now, tonumber(ARGV[5]))
if ARGV[6] == "0" then rcall("HINCRBY", jobKey, "atm", 1) end
rcall("HSET", jobKey, "delay", ARGV[5])
local cap = eventsCap(q.meta)
rcall("ZADD", q.delayed, score, jobId)
rcall("XADD", q.events, "MAXLEN", "~", cap, "*", "event", "delayed",
  "jobId", jobId, "delay", dueMs)

if ARGV[8] == "1" then
  local reply = takeNextJob(q, ARGV[1], now, cmsgpack.unpack(ARGV[9]), true)
  -- Only a handed-out job is returned; otherwise fall through to the marker.
  if reply and type(reply[1]) == "table" then return reply end
end

refreshDelayMarker(q.marker, q.delayed)
return 0
