-- moveToDelayed: move an active job to the delayed set (retry with backoff,
-- or the processor's own moveToDelayed), optionally fetching the next job.
-- v6.7.0 layout (PROTOCOL.md 4.1).
-- KEYS: 1 marker, 2 active, 3 prioritized, 4 delayed, 5 job key, 6 events,
--       7 meta, 8 stalled, 9 wait, 10 limiter, 11 pc
-- ARGV: 1 key prefix, 2 now (ms), 3 jobId, 4 token, 5 delay (ms, relative),
--       6 skipAttempt "1"|"0", 7 msgpack flat [field, value, ...] or "",
--       8 fetchNext "1"|"0", 9 msgpack { token, lockDuration, limiter?, name? } or ""
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
  paused = ARGV[1] .. "paused", -- not a declared key; only read by the v5-compat target rule
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
