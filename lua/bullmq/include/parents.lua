-- parents: what a finishing child does to its parent job (which may live in
-- another queue). parentBase below is the parent queue key WITHOUT the
-- trailing colon ("<prefix>:<queue>"), as stored in the child's `parent` JSON.
--@include core
--@include gate
--@include enqueue

-- Re-queue a parent that has left waiting-children: delayed if it carries a
-- delay, else prioritized or the front of wait, with events in its queue.
local function requeueParent(parentBase, parentKey, parentId, now)
  local pq = queueKeysOf(parentBase .. ":")
  local attrs = rcall("HMGET", parentKey, "priority", "delay")
  local priority = tonumber(attrs[1]) or 0
  local delay = tonumber(attrs[2]) or 0
  if delay > 0 then
    local due = tonumber(now) + delay
    rcall("ZADD", pq.delayed, due * 0x1000, parentId)
    rcall("XADD", pq.events, "*", "event", "delayed", "jobId", parentId, "delay", due)
    refreshDelayMarker(pq.marker, pq.delayed)
    return
  end
  local gate = readGate(pq.meta, pq.active)
  if priority == 0 then
    pushReady(pq, gate, "RPUSH", parentId)
  else
    addPrioritized(pq, gate, priority, parentId)
  end
  rcall("XADD", pq.events, "*", "event", "waiting", "jobId", parentId, "prev", "waiting-children")
end

-- Release the parent if it (still) exists and is waiting for children.
local function releaseWaitingParent(parentBase, parentKey, parentId, now)
  if rcall("EXISTS", parentKey) == 0 then return end
  local wc = parentBase .. ":waiting-children"
  if rcall("ZSCORE", wc, parentId) then
    rcall("ZREM", wc, parentId)
    requeueParent(parentBase, parentKey, parentId, now)
  end
end

local function releaseParentWhenNoDeps(parentBase, parentKey, parentId, now)
  if rcall("SCARD", parentKey .. ":dependencies") == 0 then
    releaseWaitingParent(parentBase, parentKey, parentId, now)
  end
end

-- Completed child: record its result and release the parent after the last.
local function childCompleted(parentBase, parentKey, parentId, childKey, result, now)
  if rcall("SREM", parentKey .. ":dependencies", childKey) == 1 then
    rcall("HSET", parentKey .. ":processed", childKey, result)
    releaseParentWhenNoDeps(parentBase, parentKey, parentId, now)
  end
end

-- failParentOnFailure: the parent is marked for deferred failure (defa) and
-- made ready (from waiting-children or delayed) so a worker fails it.
local function failParentLater(parentBase, parentKey, parentId, childKey, now)
  if rcall("EXISTS", parentKey) == 0 then return end
  local reason = "child " .. childKey .. " failed"
  local from
  if rcall("ZSCORE", parentBase .. ":waiting-children", parentId) then
    from = parentBase .. ":waiting-children"
  elseif rcall("ZSCORE", parentBase .. ":delayed", parentId) then
    from = parentBase .. ":delayed"
    rcall("HSET", parentKey, "delay", 0)
  end
  if from then
    rcall("ZREM", from, parentId)
    rcall("HSET", parentKey, "defa", reason)
    requeueParent(parentBase, parentKey, parentId, now)
  elseif not rcall("ZSCORE", parentBase .. ":failed", parentId) then
    rcall("HSET", parentKey, "defa", reason)
  end
end

-- Finally failed child: act on the failure policy flag in its `parent` JSON
-- (fpof / cpof / idof / rdof). Without a flag the parent keeps waiting.
local function childFailed(parentJson, childKey, reason, now)
  if not parentJson then return end
  local p = cjson.decode(parentJson)
  local base, pid = p["queueKey"], p["id"]
  local parentKey = base .. ":" .. pid
  local deps = parentKey .. ":dependencies"
  if p["fpof"] then
    if rcall("SREM", deps, childKey) == 1 then
      rcall("ZADD", parentKey .. ":unsuccessful", now, childKey)
      failParentLater(base, parentKey, pid, childKey, now)
    end
  elseif p["cpof"] then
    if rcall("SREM", deps, childKey) == 1 then
      rcall("HSET", parentKey .. ":failed", childKey, reason)
      releaseWaitingParent(base, parentKey, pid, now)
    end
  elseif p["idof"] or p["rdof"] then
    if rcall("SREM", deps, childKey) == 1 then
      releaseParentWhenNoDeps(base, parentKey, pid, now)
      if p["idof"] then
        rcall("HSET", parentKey .. ":failed", childKey, reason)
      end
    end
  end
end

-- A child job is being deleted: drop it from its parent's dependencies and,
-- if it was the last one, put the parent at the front of its wait list
-- (this path ignores the parent's priority and delay).
-- parentKey = nil reads it from the job hash and requires the parent to exist.
local function unlinkFromParent(jobKey, parentKey)
  if not parentKey then
    parentKey = rcall("HGET", jobKey, "parentKey")
    if not parentKey or parentKey == "" or rcall("EXISTS", parentKey) == 0 then
      return false
    end
  end
  local deps = parentKey .. ":dependencies"
  if rcall("SREM", deps, jobKey) == 0 then return false end
  if rcall("SCARD", deps) == 0 then
    local pid, pbase = splitJobKey(parentKey)
    if rcall("ZREM", pbase .. "waiting-children", pid) == 1 then
      local pq = queueKeysOf(pbase)
      pushReady(pq, readGate(pq.meta, pq.active), "RPUSH", pid)
      rcall("XADD", pq.events, "*", "event", "waiting", "jobId", pid, "prev", "waiting-children")
    end
  end
  return true
end
