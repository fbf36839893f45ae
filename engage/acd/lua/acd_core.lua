-- engage ACD, shared core: keys, events, capacity, agent readiness. Concatenated in front of
-- acd_flows.lua and one entry body; every entry runs atomically, so no interaction is ever
-- given to two agents and no agent goes over capacity, whatever the number of nodes.
-- ARGV[1] = key prefix, ARGV[2] = now (ms); the entry's own arguments follow.
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local MOVES = __MOVES__
local CAP = cjson.decode(__CAPACITY__)
local FRONT_BONUS = 10000000000000

local function key(...) return P .. table.concat({...}, ':') end
local function ixkey(ix) return key('ix', ix) end
local function agkey(a) return key('agent', a) end

local function hgetall(k)
  local flat = redis.call('HGETALL', k)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function split(csv)
  local out = {}
  if csv == nil or csv == false or csv == '' then return out end
  for part in string.gmatch(csv, '[^,]+') do out[#out + 1] = part end
  return out
end

local NOTIFY = {}
local ROUTE = {}
local function notify(to, id, event, data)
  NOTIFY[#NOTIFY + 1] = {to = to, id = id, event = event, data = data or {}}
end
local function want_route(q) if q and q ~= '' then ROUTE[q] = true end end
local function result(extra)
  local queues = {}
  for q in pairs(ROUTE) do queues[#queues + 1] = q end
  extra = extra or {}
  extra.notify = NOTIFY
  extra.route = queues
  return cjson.encode(extra)
end

-- The event log: every transition, drained into MongoDB by the event-log writer.
local function log_ix(ix, h, from, to, reason, actor)
  redis.call('XADD', key('events'), 'MAXLEN', '~', 1000000, '*',
    'kind', 'ix', 'ix', ix, 'from', from, 'to', to, 'reason', reason or '',
    'actor', actor or '', 'queue', h.queue or '', 'agent', h.agent or '',
    'channel', h.channel or '', 'customer', h.customer or '',
    'disposition', h.disposition or '', 'at', tostring(NOW))
end

local function log_agent(a, from, to, reason)
  redis.call('XADD', key('events'), 'MAXLEN', '~', 1000000, '*',
    'kind', 'agent', 'agent', a, 'from', from, 'to', to, 'reason', reason or '',
    'at', tostring(NOW))
end

local function set_ix_state(ix, h, to, reason, actor)
  local from = h.state
  if not MOVES[from] or not MOVES[from][to] then
    return error('illegal_transition ' .. tostring(from) .. ' -> ' .. to)
  end
  h.state = to
  redis.call('HSET', ixkey(ix), 'state', to, 'updated_ms', NOW)
  log_ix(ix, h, from, to, reason, actor)
end

-- Capacity (engage.acd.routing.can_take gives the roster the same answers).
local function load_of(ag)
  local load = {}
  for ch, _ in pairs(CAP.limits) do load[ch] = tonumber(ag['load:' .. ch] or '0') end
  return load
end

local function can_take(ag, channel)
  local load = load_of(ag)
  local limit = CAP.limits[channel] or 0
  if (load[channel] or 0) + 1 > limit then return false end
  for _, g in ipairs(CAP.groups) do
    local inside, sum = false, 0
    for _, m in ipairs(g.members) do
      sum = sum + (load[m] or 0)
      if m == channel then inside = true end
    end
    if inside and sum + 1 > g.limit then return false end
  end
  for _, b in ipairs(CAP.blocked_by[channel] or {}) do
    if (load[b] or 0) > 0 then return false end
  end
  return true
end

local function load_total(ag)
  local total = 0
  for _, n in pairs(load_of(ag)) do total = total + n end
  return total
end

-- Order of agents in a queue's ready set, lowest first: longest idle (ring-all rings them
-- all anyway); least occupied (load first, then idle time); round robin (longest since offered).
local function ready_score(strategy, ag)
  local idle = tonumber(ag.idle_since_ms or '0')
  if strategy == 'least_occupied' then return load_total(ag) * 100000000000000 + idle end
  if strategy == 'round_robin' then return tonumber(ag.last_offer_seq or '0') end
  return idle
end

local function set_agent_state(a, ag, to, reason)
  local from = ag.state or 'offline'
  if from == to and (ag.reason or '') == (reason or '') then return end
  redis.call('SREM', key('state', from), a)
  redis.call('SADD', key('state', to), a)
  redis.call('HSET', agkey(a), 'state', to, 'reason', reason or '', 'since_ms', NOW)
  ag.state, ag.reason = to, reason or ''
  log_agent(a, from, to, reason)
  notify('agent', a, 'agent_state', {state = to, reason = reason or ''})
end

local function routable(ag)
  return (ag.state == 'available' or ag.state == 'busy') and ag.connected == '1'
end

-- After any change to an agent: busy/available from its load, and its place in the ready
-- sets of every queue it serves, one per channel: an agent is in q:<q>:ready:<channel> only
-- while it can take one more of that channel, so routing never scans full agents. A queue is
-- routed again only when an agent newly becomes ready in it.
local function refresh_agent(a)
  local ag = hgetall(agkey(a))
  if ag.state == nil then return end
  if ag.state == 'available' or ag.state == 'busy' then
    local want = (load_total(ag) > 0) and 'busy' or 'available'
    if ag.state ~= want then set_agent_state(a, ag, want, '') end
  end
  local ok = routable(ag)
  local takes = {}
  for ch, _ in pairs(CAP.limits) do takes[ch] = ok and can_take(ag, ch) end
  for _, q in ipairs(split(ag.queues)) do
    local strategy = redis.call('HGET', key('q', q), 'strategy') or 'longest_idle'
    local score = ready_score(strategy, ag)
    for ch, yes in pairs(takes) do
      local zkey = key('q', q, 'ready', ch)
      if yes then
        if redis.call('ZADD', zkey, score, a) == 1 then want_route(q) end
      else
        redis.call('ZREM', zkey, a)
      end
    end
  end
end

local function add_load(a, channel, delta)
  local n = redis.call('HINCRBY', agkey(a), 'load:' .. channel, delta)
  if n < 0 then redis.call('HSET', agkey(a), 'load:' .. channel, 0) end
  redis.call('HSET', agkey(a), 'idle_since_ms', NOW)
end

-- Waiting interactions: one zset per queue (positions, length) and one per queue and
-- channel (routing), so a call nobody can take never blocks a chat behind it.
local function waiting_add(ix, h, front)
  local order = tonumber(h.order)
  -- Requeued at the front (agent lost, cold transfer): the max-wait clock restarts, or the
  -- time the customer spent being served would time them out at once.
  local since = tonumber(h.enqueued_ms)
  if front then
    order, since = order - FRONT_BONUS, NOW
    redis.call('HSET', ixkey(ix), 'order', order, 'queue_since_ms', NOW)
  end
  redis.call('ZADD', key('q', h.queue, 'waiting'), order, ix)
  redis.call('ZADD', key('q', h.queue, 'waiting', h.channel), order, ix)
  redis.call('ZADD', key('q', h.queue, 'since'), since, ix)
  want_route(h.queue)
  notify('queue', h.queue, 'queue_changed', {})
end

local function waiting_remove(ix, h)
  redis.call('ZREM', key('q', h.queue, 'waiting'), ix)
  redis.call('ZREM', key('q', h.queue, 'waiting', h.channel), ix)
  redis.call('ZREM', key('q', h.queue, 'since'), ix)
  notify('queue', h.queue, 'queue_changed', {})
end
