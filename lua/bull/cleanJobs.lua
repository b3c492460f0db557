-- cleanJobs: Node Bull's queue.clean(grace, state, limit) (docs/bull.md §6): removes the
-- unlocked jobs of one state whose time (finishedOn, else processedOn, else timestamp) is
-- before `before`, at most `limit` (0: no limit), as Bull chooses them:
--   * lists (wait, active, paused) from the right end in windows of `limit` ids (all at once
--     without a limit), each window read left to right;
--   * sets without a limit in score order; with one, only the members scored 0..before
--     (for `delayed`, whose scores are due * 4096, that is few), one window.
-- Times are compared as text, and a job without any of the three fields is judged by the time
-- of the job looked at before it: both as Bull does. A removed job loses its id in the state
-- and in `priority`, its hash and logs, its rate-limiter entry and, outside completed and
-- failed, the debounce key it owns. Nothing is published.
-- @key set              key     the state's key
-- @key priority         queue
-- @key limiterIndex     queue:limiter:index
-- @arg prefix           base
-- @arg before           str     now - grace (ms)
-- @arg limit            int
-- @arg state            str     wait | active | paused | delayed | completed | failed
-- Reply: the ids removed, in the order they were
--@include remove

local set, base, before, limit, state = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local isList = state == "wait" or state == "active" or state == "paused"
local byScore = not isList and limit > 0

local function window(from, to)
  if isList then
    return redis.call("LRANGE", set, from, to)
  elseif byScore then
    return redis.call("ZRANGEBYSCORE", set, 0, before, "LIMIT", 0, limit)
  end
  return redis.call("ZRANGE", set, from, to)
end

local function drop(jobKey, jobId)
  redis.call("ZREM", KEYS[2], jobId)
  removeJobData(base, jobKey, jobId, KEYS[3], state ~= "completed" and state ~= "failed")
end

local from, to = 0, -1
if limit > 0 then
  from = -limit
end
local ids = window(from, to)
local removed = {}
local jobTime
while (limit <= 0 or #removed < limit) and #ids > 0 do
  for i, jobId in ipairs(ids) do
    if limit > 0 and #removed >= limit then
      break
    end
    local jobKey = base .. jobId
    if redis.call("EXISTS", jobKey .. ":lock") == 0 then
      for _, t in ipairs(redis.call("HMGET", jobKey, "finishedOn", "processedOn", "timestamp")) do
        if t then
          jobTime = t
          break
        end
      end
      if not jobTime or jobTime < before then
        if isList then
          redis.call("LSET", set, to - #ids + i, "") -- a mark, taken out at the end
        else
          redis.call("ZREM", set, jobId)
        end
        drop(jobKey, jobId)
        removed[#removed + 1] = jobId
      end
    end
  end
  if limit <= 0 or byScore then
    break
  end
  if #removed < limit then
    from, to = from - limit, to - limit
    ids = window(from, to)
  end
end
if isList then
  redis.call("LREM", set, 0, "")
end
return removed
