-- Per-minute counts of finished jobs (docs/bull.md §4.3): `count` in the metrics hash, and one
-- data point per minute passed since `prevTS` (newest first, empty minutes as 0), at most
-- maxPoints of them.
local function recordMetric(metricsKey, maxPoints, now)
  local before = redis.call("HINCRBY", metricsKey, "count", 1) - 1
  local lastTs = redis.call("HGET", metricsKey, "prevTS")
  if not lastTs then
    redis.call("HSET", metricsKey, "prevTS", now, "prevCount", 0)
    return
  end
  local minutes = math.min(math.floor(now / 60000) - math.floor(lastTs / 60000),
    tonumber(maxPoints))
  if minutes <= 0 then
    return
  end
  local dataKey = metricsKey .. ":data"
  local points = { before - redis.call("HGET", metricsKey, "prevCount") }
  for i = 2, minutes do
    points[i] = 0
  end
  for from = 1, #points, 7000 do
    redis.call("LPUSH", dataKey, unpack(points, from, math.min(from + 6999, #points)))
  end
  redis.call("LTRIM", dataKey, 0, maxPoints - 1)
  redis.call("HSET", metricsKey, "prevCount", before, "prevTS", now)
end
