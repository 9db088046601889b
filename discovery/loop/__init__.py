"""The campaign loop: plan, propose, evaluate, commit (`campaign.Campaign`)."""
