-- Entry: ARGV[3] names the operation; its arguments follow from ARGV[4].
local op = ARGV[3]
local A = function(i) return ARGV[3 + i] end
if op == 'route' then
  local offered = {}
  for _ = 1, tonumber(A(2)) do
    local ix = route_once(A(1))
    if not ix then break end
    offered[#offered + 1] = ix
  end
  return result({ok = true, offered = offered})
elseif op == 'enqueue' then return enqueue(A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8), A(9))
elseif op == 'accept' then return accept(A(1), A(2))
elseif op == 'decline' then return release(A(1), A(2), 'declined')
elseif op == 'complete' then return complete(A(1), A(2), A(3))
elseif op == 'wrap' then return wrap(A(1), A(2), A(3))
elseif op == 'abandon' then return abandon(A(1), A(2))
elseif op == 'transfer_queue' then return transfer_queue(A(1), A(2), A(3))
elseif op == 'transfer_agent' then return transfer_agent(A(1), A(2), A(3))
elseif op == 'consult' then return consult(A(1), A(2), A(3))
elseif op == 'consult_accept' then return consult_accept(A(1), A(2))
elseif op == 'consult_complete' then return consult_end(A(1), A(2), true, false)
elseif op == 'consult_cancel' then return consult_end(A(1), A(2), false, false)
elseif op == 'agent_online' then return agent_online(A(1), A(2), A(3))
elseif op == 'agent_state' then return agent_set_state(A(1), A(2), A(3))
elseif op == 'agent_disconnected' then return agent_disconnected(A(1), tonumber(A(2)))
elseif op == 'sweep' then return sweep(tonumber(A(1)))
end
return fail('unknown_operation')
