"""feedback: answer/vote/correction records, TRL dataset export, LoRA training."""
