"""The agent's desk tools: canned answers (knowledge) and the team bulletin board."""
