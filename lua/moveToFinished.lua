-- moveToFinished: complete or finally fail an active job, then optionally
-- fetch the next one (PROTOCOL.md 4.1).
-- KEYS: 1 wait, 2 active, 3 prioritized, 4 events, 5 stalled, 6 limiter,
--       7 delayed, 8 paused, 9 meta, 10 pc, 11 completed|failed, 12 job key,
--       13 metrics:completed|metrics:failed, 14 marker
-- ARGV: 1 jobId, 2 now (ms, becomes finishedOn), 3 "returnvalue"|"failedReason",
--       4 value, 5 "completed"|"failed", 6 fetchNext "1"|"0", 7 key prefix,
--       8 msgpack { token, name?, keepJobs = {count?, age?, limit?}, limiter?,
--         lockDuration, attempts, maxMetricsSize (number or ""), fpof.. (unused) },
--       9 msgpack flat [field, value, ...] to HMSET first, or ""
-- Reply: 0 | next-job reply (see moveToActive) when fetching |
--        -1 no job, -2 no lock, -3 not active, -4 pending children,
--        -6 lock mismatch, -9 failed children
--@include core
--@include events
--@include dedup
--@include parents
--@include retention
--@include metrics
--@include fetch

local jobKey = KEYS[12]
local jobId, now = ARGV[1], ARGV[2]
local valueField, value, target = ARGV[3], ARGV[4], ARGV[5]
local prefix = ARGV[7]
local q = {
  wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
  limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8], meta = KEYS[9],
  pc = KEYS[10], marker = KEYS[14],
}
local completing = target == "completed"

-- One read for what the finish needs; `timestamp` is in every job hash, so its absence means
-- the job is gone (EXISTS settles the odd hash written without it).
local attrs = rcall("HMGET", jobKey, "parentKey", "parent", "deid", "atm", "timestamp")
if attrs[5] == false and rcall("EXISTS", jobKey) == 0 then return -1 end
-- Empty sets do not exist, so one EXISTS answers both checks in the usual case.
if completing and rcall("EXISTS", jobKey .. ":dependencies", jobKey .. ":unsuccessful") > 0 then
  if rcall("SCARD", jobKey .. ":dependencies") ~= 0 then return -4 end
  if rcall("ZCARD", jobKey .. ":unsuccessful") ~= 0 then return -9 end
end

local opts = cmsgpack.unpack(ARGV[8])
local rc = releaseJobLock(jobKey, KEYS[5], opts["token"], jobId)
if rc < 0 then return rc end

applyPackedFields(jobKey, ARGV[9])

local parentKey = attrs[1] or ""
local parentJson = attrs[2] or nil
local dedupId = attrs[3] or nil

if rcall("LREM", q.active, -1, jobId) < 1 then return -3 end

-- Trim first so that the events written below survive.
trimEventsStream(q.meta, q.events)

releaseDedupOnFinish(prefix, dedupId, jobId)
if dedupId then createParkedDedupJob(prefix, dedupId, q, now) end

-- Parent bookkeeping. The parent is named by the `parent` JSON, or failing
-- that derived from the parentKey field.
local parentId, parentBase = "", ""
if parentJson then
  local p = cjson.decode(parentJson)
  parentId, parentBase = p["id"], p["queueKey"]
elseif parentKey ~= "" then
  local pfx
  parentId, pfx = splitJobKey(parentKey)
  parentBase = string.sub(pfx, 1, #pfx - 1)
end
if parentId ~= "" then
  if completing then
    childCompleted(parentBase, parentKey, parentId, jobKey, value, now)
  else
    childFailed(parentJson, jobKey, value, now)
  end
end

-- atm + 1 is written with the outcome below (what HINCRBY then HSET would leave); a job
-- removed at once needs no write at all.
local attemptsMade = (tonumber(attrs[4]) or 0) + 1

local keep = opts["keepJobs"]
local keepCount = keep["count"]
if keepCount ~= 0 then
  local setKey = KEYS[11]
  rcall("ZADD", setKey, now, jobId)
  rcall("HSET", jobKey, "atm", attemptsMade, valueField, value, "finishedOn", now)
  if not completing then rcall("HDEL", jobKey, "defa") end
  if keep["age"] ~= nil then
    trimFinishedByAge(setKey, prefix, now, keep["age"], keep["limit"] or 1000)
  end
  if keepCount ~= nil and keepCount > 0 then
    trimFinishedByCount(setKey, prefix, keepCount)
  end
else
  deleteJobKeys(jobKey)
  if parentKey ~= "" then unlinkFromParent(jobKey, parentKey) end
end

rcall("XADD", q.events, "*", "event", target, "jobId", jobId, valueField, value, "prev", "active")
if not completing and attemptsMade >= (tonumber(opts["attempts"]) or 0) then
  rcall("XADD", q.events, "*", "event", "retries-exhausted", "jobId", jobId,
    "attemptsMade", attemptsMade)
end

local maxPoints = opts["maxMetricsSize"]
if maxPoints ~= nil and maxPoints ~= "" then
  recordMetric(KEYS[13], maxPoints, now)
end

if ARGV[6] == "1" then
  local reply = takeNextJob(q, prefix, now, opts, true)
  if reply then return reply end
end

if rcall("LLEN", q.wait) == 0 and rcall("LLEN", q.active) == 0
    and rcall("ZCARD", q.prioritized) == 0 then
  rcall("XADD", q.events, "*", "event", "drained")
end
return 0
