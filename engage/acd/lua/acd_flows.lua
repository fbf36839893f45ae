-- engage ACD flows: offer, accept, release, complete, wrap-up, abandon, transfers, agents,
-- sweeps. Each entry body calls one of these; all checks and writes happen in one script.

local function fail(code, extra)
  extra = extra or {}
  extra.ok = false
  extra.code = code
  return result(extra)
end

-- The interaction if ``a`` is the agent connected to it, else nil and the refusal to return.
local function held_by(ix, a, state)
  local h = hgetall(ixkey(ix))
  if h.state ~= state then
    return nil, fail(state == 'connected' and 'not_connected' or 'not_in_wrap_up')
  end
  if h.agent ~= a then return nil, fail('not_your_interaction') end
  return h
end

local function declined_set(h)
  local d = {}
  for _, a in ipairs(split(h.declined)) do d[a] = true end
  return d
end

local function add_declined(ix, h, a)
  if a == nil or a == '' then return end
  local d = declined_set(h)
  if not d[a] then
    h.declined = (h.declined and h.declined ~= '') and (h.declined .. ',' .. a) or a
    redis.call('HSET', ixkey(ix), 'declined', h.declined)
  end
end

local function requeue(ix, h, reason, actor, front)
  set_ix_state(ix, h, 'queued', reason, actor)
  redis.call('HDEL', ixkey(ix), 'agent', 'ring', 'offer_deadline')
  redis.call('ZREM', key('offers'), ix)
  h.agent = nil
  waiting_add(ix, h, front)
  notify('ix', ix, 'queue_status', {state = 'queued', reason = reason})
end

local function offer_to(ix, h, agents, cfg)
  waiting_remove(ix, h)
  local deadline = NOW + tonumber(cfg.offer_timeout or '20') * 1000
  local seq = redis.call('INCR', key('seq'))
  local ring = cfg.strategy == 'ring_all'
  if ring then
    redis.call('HSET', ixkey(ix), 'ring', table.concat(agents, ','), 'offer_deadline', deadline)
  else
    h.agent = agents[1]
    redis.call('HSET', ixkey(ix), 'agent', agents[1], 'offer_deadline', deadline)
    add_load(agents[1], h.channel, 1)  -- the reservation counts against capacity
    redis.call('SADD', key('agent', agents[1], 'ix'), ix)
  end
  set_ix_state(ix, h, 'offered', ring and 'ring_all' or cfg.strategy, '')
  redis.call('ZADD', key('offers'), deadline, ix)
  for _, a in ipairs(agents) do
    redis.call('HSET', agkey(a), 'last_offer_seq', seq)
    refresh_agent(a)
    notify('agent', a, 'offer', {interaction = ix, queue = h.queue, channel = h.channel,
      deadline_ms = deadline, ring_all = ring, customer = h.customer or '',
      context = h.context or '{}'})
  end
  notify('ix', ix, 'queue_status', {state = 'offered'})
end

-- Agents to offer one waiting interaction to, or none: the customer's last agent while the
-- interaction is young, else the best ready agents of its channel it has not declined.
local function candidates(ix, h, cfg, zready)
  local declined = declined_set(h)
  local sticky = h.sticky or ''
  if sticky ~= '' and not declined[sticky]
      and NOW - tonumber(h.enqueued_ms) < tonumber(cfg.sticky_seconds or '0') * 1000
      and redis.call('ZSCORE', zready, sticky) then
    return {sticky}
  end
  local chosen = {}
  local ring = cfg.strategy == 'ring_all'
  local declined_count = 0
  for _ in pairs(declined) do declined_count = declined_count + 1 end
  local limit = ring and 199 or declined_count
  for _, a in ipairs(redis.call('ZRANGE', zready, 0, limit)) do
    if not declined[a] then
      chosen[#chosen + 1] = a
      if not ring then break end
    end
  end
  return chosen
end

-- One routing decision for a queue: for every channel with a ready agent, the first waiting
-- interactions of that channel; the one earliest in effective-priority order is offered.
-- Returns the interaction offered, or nil.
local function route_once(q)
  local cfg = hgetall(key('q', q))
  if cfg.strategy == nil then return nil end
  local best, best_score, best_h, best_agents = nil, nil, nil, nil
  for ch, _ in pairs(CAP.limits) do
    local zready = key('q', q, 'ready', ch)
    if redis.call('ZCARD', zready) > 0 then
      local heads = redis.call('ZRANGE', key('q', q, 'waiting', ch), 0, 4, 'WITHSCORES')
      for i = 1, #heads, 2 do
        local score = tonumber(heads[i + 1])
        if best_score ~= nil and score >= best_score then break end
        local h = hgetall(ixkey(heads[i]))
        local agents = candidates(heads[i], h, cfg, zready)
        if #agents > 0 then
          best, best_score, best_h, best_agents = heads[i], score, h, agents
          break
        end
      end
    end
  end
  if best == nil then return nil end
  offer_to(best, best_h, best_agents, cfg)
  return best
end

local function accept(ix, a)
  local h = hgetall(ixkey(ix))
  if h.state ~= 'offered' then return fail('offer_gone') end
  local others = {}
  local ring = split(h.ring)
  if #ring > 0 then
    local found = false
    for _, r in ipairs(ring) do
      if r == a then found = true else others[#others + 1] = r end
    end
    if not found then return fail('not_offered_to_you') end
    local ag = hgetall(agkey(a))
    if not routable(ag) or not can_take(ag, h.channel) then return fail('over_capacity') end
    add_load(a, h.channel, 1)
    redis.call('SADD', key('agent', a, 'ix'), ix)
    redis.call('HDEL', ixkey(ix), 'ring')
  elseif h.agent ~= a then
    return fail('not_offered_to_you')
  end
  h.agent = a
  redis.call('HSET', ixkey(ix), 'agent', a, 'answered_ms', NOW)
  redis.call('HDEL', ixkey(ix), 'offer_deadline')
  set_ix_state(ix, h, 'connected', 'accepted', a)
  redis.call('ZREM', key('offers'), ix)
  redis.call('HSET', agkey(a), 'misses', 0)
  refresh_agent(a)
  for _, o in ipairs(others) do
    notify('agent', o, 'offer_revoked', {interaction = ix, reason = 'taken'})
  end
  if h.customer and h.customer ~= '' then
    redis.call('SET', key('sticky', h.customer), a, 'EX', 2592000)
  end
  notify('ix', ix, 'connected', {agent = a})
  return result({ok = true, interaction = ix, queue = h.queue, channel = h.channel,
    customer = h.customer or '', context = h.context or '{}'})
end

-- Declined, not answered in time, or the agent vanished: the next agent gets it.
local function release(ix, a, why)
  local h = hgetall(ixkey(ix))
  if h.state ~= 'offered' then return fail('offer_gone') end
  local cfg = hgetall(key('q', h.queue))
  local ring = split(h.ring)
  if #ring > 0 then
    if why == 'declined' then
      local left, found = {}, false
      for _, r in ipairs(ring) do
        if r == a then found = true else left[#left + 1] = r end
      end
      if not found then return fail('not_offered_to_you') end
      add_declined(ix, h, a)
      notify('agent', a, 'offer_revoked', {interaction = ix, reason = why})
      if #left > 0 then
        redis.call('HSET', ixkey(ix), 'ring', table.concat(left, ','))
        return result({ok = true, requeued = false})
      end
    else
      for _, r in ipairs(ring) do
        notify('agent', r, 'offer_revoked', {interaction = ix, reason = why})
      end
    end
  else
    if why == 'declined' and h.agent ~= a then return fail('not_offered_to_you') end
    a = h.agent
    add_load(a, h.channel, -1)
    redis.call('SREM', key('agent', a, 'ix'), ix)
    add_declined(ix, h, a)
    notify('agent', a, 'offer_revoked', {interaction = ix, reason = why})
    if why == 'timeout' then
      local misses = redis.call('HINCRBY', agkey(a), 'misses', 1)
      if misses >= tonumber(cfg.max_misses or '3') then
        local ag = hgetall(agkey(a))
        if ag.state == 'available' or ag.state == 'busy' then
          set_agent_state(a, ag, 'away', 'missed_offers')
        end
        redis.call('HSET', agkey(a), 'misses', 0)
      end
    end
    refresh_agent(a)
  end
  requeue(ix, h, why, a, false)
  return result({ok = true, requeued = true})
end

local function others_in_wrap_up(a, except)
  for _, other in ipairs(redis.call('SMEMBERS', key('agent', a, 'ix'))) do
    if other ~= except and redis.call('HGET', ixkey(other), 'state') == 'wrap_up' then
      return true
    end
  end
  return false
end

local function finish_wrap(ix, h, disposition, reason, actor)
  h.disposition = disposition
  redis.call('HSET', ixkey(ix), 'disposition', disposition, 'closed_ms', NOW)
  -- Recent handle time per queue (EWMA), for the estimated wait shown to visitors.
  local answered = tonumber(h.answered_ms or '0')
  if answered > 0 then
    local handled = (NOW - answered) / 1000
    local old = tonumber(redis.call('HGET', key('q', h.queue), 'aht') or '0')
    local aht = (old > 0) and (0.9 * old + 0.1 * handled) or handled
    redis.call('HSET', key('q', h.queue), 'aht', tostring(aht))
  end
  set_ix_state(ix, h, 'closed', reason, actor)
  redis.call('ZREM', key('wrapups'), ix)
  local a = h.agent
  if a and a ~= '' then
    redis.call('SREM', key('agent', a, 'ix'), ix)
    local ag = hgetall(agkey(a))
    if ag.state == 'wrap_up' and not others_in_wrap_up(a, ix) then
      set_agent_state(a, ag, 'available', '')
    end
    refresh_agent(a)
    notify('agent', a, 'closed', {interaction = ix, disposition = disposition})
  end
  redis.call('EXPIRE', ixkey(ix), 86400)
end

-- Ends a consultation without handing over: the consulted colleague is let go.
local function release_consult(ix, h, by)
  local target = h.consult or ''
  if target == '' then return end
  redis.call('HDEL', ixkey(ix), 'consult', 'consult_state')
  redis.call('ZREM', key('consults'), ix)
  add_load(target, h.channel, -1)
  redis.call('SREM', key('agent', target, 'ix'), ix)
  refresh_agent(target)
  log_ix(ix, h, 'connected', 'connected', 'consult_cancelled:' .. target, by)
  notify('agent', target, 'consult_cancelled', {interaction = ix})
  notify('agent', h.agent, 'consult_cancelled', {interaction = ix})
  h.consult, h.consult_state = nil, nil
end

local function complete(ix, a, actor)
  local h = hgetall(ixkey(ix))
  if h.state ~= 'connected' then return fail('not_connected') end
  if a ~= '' and h.agent ~= a then return fail('not_your_interaction') end
  a = h.agent
  -- Ending the conversation (agent or visitor) must not leave a colleague holding it.
  release_consult(ix, h, actor)
  local cfg = hgetall(key('q', h.queue))
  redis.call('HSET', ixkey(ix), 'ended_ms', NOW)
  set_ix_state(ix, h, 'wrap_up', 'completed', actor)
  add_load(a, h.channel, -1)
  notify('ix', ix, 'ended', {by = actor})
  local wrap = tonumber(cfg.wrap_up or '0')
  if wrap > 0 then
    local deadline = NOW + wrap * 1000
    redis.call('HSET', ixkey(ix), 'wrap_deadline', deadline)
    redis.call('ZADD', key('wrapups'), deadline, ix)
    local ag = hgetall(agkey(a))
    if ag.state == 'available' or ag.state == 'busy' then
      set_agent_state(a, ag, 'wrap_up', '')
    end
    refresh_agent(a)
    notify('agent', a, 'wrap_up', {interaction = ix, deadline_ms = deadline})
  else
    finish_wrap(ix, h, '', 'no_wrap_up', 'system')
  end
  return result({ok = true})
end

local function wrap(ix, a, disposition)
  local h, refused = held_by(ix, a, 'wrap_up')
  if not h then return refused end
  finish_wrap(ix, h, disposition, 'disposition', a)
  return result({ok = true})
end

local function abandon(ix, reason)
  local h = hgetall(ixkey(ix))
  if h.state == 'queued' then
    waiting_remove(ix, h)
  elseif h.state == 'offered' then
    local ring = split(h.ring)
    for _, r in ipairs(ring) do
      notify('agent', r, 'offer_revoked', {interaction = ix, reason = 'abandoned'})
    end
    if #ring == 0 and h.agent and h.agent ~= '' then
      add_load(h.agent, h.channel, -1)
      redis.call('SREM', key('agent', h.agent, 'ix'), ix)
      notify('agent', h.agent, 'offer_revoked', {interaction = ix, reason = 'abandoned'})
      refresh_agent(h.agent)
    end
    redis.call('ZREM', key('offers'), ix)
  elseif h.state ~= 'new' and h.state ~= 'transferred' then
    return fail('not_waiting')
  end
  redis.call('HSET', ixkey(ix), 'ended_ms', NOW)
  set_ix_state(ix, h, 'abandoned', reason, 'customer')
  redis.call('EXPIRE', ixkey(ix), 86400)
  return result({ok = true})
end
