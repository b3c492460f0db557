-- obliterateQueue: one round of Node Bull's queue.obliterate({force}) on a paused queue
-- (docs/bull.md §6). Up to `count` jobs go per round, their hashes and logs deleted: first the
-- active ones (refused without force; their locks deleted too), then those of paused, delayed,
-- completed and failed, each leaving its list or set. The round that finds nothing left
-- deletes priority, stalled-check, stalled, meta-paused, meta, id, repeat and the metrics keys.
-- Bull's script looks for a job's debounce id after deleting its hash, so debounce keys stay;
-- so do wait (renamed by the pause), the limiter keys and logs of jobs in no state.
-- @key metaPaused       queue:meta-paused
-- @arg prefix           base
-- @arg count            int     jobs per round
-- @arg force            int     1: even with active jobs
-- Reply: 0 done | 1 more to do (call again) | -1 not paused | -2 active jobs without force

local base, left = ARGV[1], tonumber(ARGV[2])
if redis.call("EXISTS", KEYS[1]) ~= 1 then
  return -1
end

local function drop(ids)
  for _, id in ipairs(ids) do
    redis.call("DEL", base .. id, base .. id .. ":logs")
  end
  left = left - #ids
end

local active = redis.call("LRANGE", base .. "active", 0, left - 1)
if #active > 0 and ARGV[3] ~= "1" then
  return -2
end
for _, id in ipairs(active) do
  redis.call("DEL", base .. id .. ":lock")
end
drop(active)
redis.call("LTRIM", base .. "active", #active, -1)
if left <= 0 then
  return 1
end
local paused = redis.call("LRANGE", base .. "paused", 0, left - 1)
drop(paused)
redis.call("LTRIM", base .. "paused", #paused, -1)
if left <= 0 then
  return 1
end
for _, state in ipairs({ "delayed", "completed", "failed" }) do
  local ids = redis.call("ZRANGE", base .. state, 0, left - 1)
  drop(ids)
  if #ids > 0 then
    redis.call("ZREM", base .. state, unpack(ids))
  end
  if left <= 0 then
    return 1
  end
end
for _, k in ipairs({ "priority", "stalled-check", "stalled", "meta-paused", "meta", "id", "repeat",
                     "metrics:completed", "metrics:completed:data", "metrics:failed",
                     "metrics:failed:data" }) do
  redis.call("DEL", base .. k)
end
return 0
