-- finish: complete or finally fail one active job, then optionally fetch the
-- next one; shared by moveToFinished (one job) and moveToFinishedBatch (jobs
-- that several handler threads finished at about the same time).
-- q: the queue keys (wait, active, prioritized, events, stalled, limiter,
--    delayed, paused, meta, pc, marker); prefix: "<prefix>:<queue>:".
-- e: { jobKey, jobId, now, valueField ("returnvalue"|"failedReason"), value,
--      target ("completed"|"failed"), fetchNext ("1"|"0"), setKey
--      (completed|failed), metricsKey, opts (msgpack, see moveToFinished),
--      fields (msgpack flat [field, value, ...] to HMSET first, or "") }
-- Returns 0, a next-job reply, or a negative code (see moveToFinished).
--@include core
--@include events
--@include dedup
--@include parents
--@include retention
--@include metrics
--@include fetch

local function finishJob(q, prefix, e)
  local jobKey, jobId, now = e.jobKey, e.jobId, e.now
  local valueField, value, target = e.valueField, e.value, e.target
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

  local opts = cmsgpack.unpack(e.opts)
  local rc = releaseJobLock(jobKey, q.stalled, opts["token"], jobId)
  if rc < 0 then return rc end

  applyPackedFields(jobKey, e.fields)

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
    local setKey = e.setKey
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
    recordMetric(e.metricsKey, maxPoints, now)
  end

  if e.fetchNext == "1" then
    local reply = takeNextJob(q, prefix, now, opts, true)
    if reply then return reply end
  end

  if rcall("LLEN", q.wait) == 0 and rcall("LLEN", q.active) == 0
      and rcall("ZCARD", q.prioritized) == 0 then
    rcall("XADD", q.events, "*", "event", "drained")
  end
  return 0
end
