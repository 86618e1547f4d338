"""The training loop: one task, AdamW, linear schedule, evaluation, checkpoints and resume.

The trainer imports neither Ray nor MLflow. After each evaluation it calls
``callback(metrics, checkpoint_dir)``, from which Ray Tune trials report their results.
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hypercl import checkpoint as ckpt
from hypercl.tasks.base import Task
from hypercl.training.config import TrainConfig
from hypercl.training.device import autocast, resolve_device, resolve_precision
from hypercl.training.optim import build_optimizer, count_optimizer_steps, linear_schedule
from hypercl.training.state import restore_rng_state, rng_state, seed_everything

logger = logging.getLogger(__name__)

EvaluationCallback = Callable[[dict[str, float], Path], None]


@dataclass
class TrainResult:
    """Outcome of a finished run: best and per-evaluation metrics, folders, throughput."""

    best_metrics: dict[str, float]
    history: list[dict[str, float]]
    best_dir: Path
    last_dir: Path
    num_parameters: int
    wall_time_s: float
    train_examples_per_s: float


@dataclass
class _Progress:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    examples: int = 0
    train_seconds: float = 0.0
    loss_sum: float = 0.0
    loss_count: int = 0
    best: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """Train ``task.model`` with the settings of ``config``; write ``output_dir/last`` and ``/best``."""

    def __init__(
        self,
        config: TrainConfig,
        task: Task,
        output_dir: str | Path,
        callback: EvaluationCallback | None = None,
    ) -> None:
        if config.grad_accum_steps < 1:
            raise ValueError(f"--grad-accum-steps must be >= 1, got {config.grad_accum_steps}")
        if config.epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {config.epochs}")
        if config.eval_steps is not None and config.eval_steps < 1:
            raise ValueError(f"--eval-steps must be >= 1 or unset, got {config.eval_steps}")
        self.config = config
        self.task = task
        self.output_dir = Path(output_dir)
        self.callback = callback
        self.device = resolve_device(config.device)
        self.dtype = resolve_precision(config.precision, self.device)
        self.model = task.model.to(self.device)
        self.optimizer = build_optimizer(self.model, config.lr, config.weight_decay)
        self.steps_per_epoch = math.ceil(task.num_train_batches() / config.grad_accum_steps)
        self.total_steps = count_optimizer_steps(
            task.num_train_batches(), config.epochs, config.grad_accum_steps
        )
        self.scheduler = linear_schedule(self.optimizer, self.total_steps, config.warmup_ratio)
        use_scaler = self.dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.progress = _Progress()
        self.data_description = task.describe()

    @property
    def last_dir(self) -> Path:
        return self.output_dir / "last"

    @property
    def best_dir(self) -> Path:
        return self.output_dir / "best"

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def fit(self, resume_from: str | Path | None = None) -> TrainResult:
        """Train to the end, evaluating every epoch (or every ``eval_steps`` optimizer steps)."""
        start = time.perf_counter()
        if resume_from is not None:
            self.load_checkpoint(Path(resume_from))
        else:
            seed_everything(self.config.seed)
        self.output_dir.mkdir(parents=True, exist_ok=True)

        while self.progress.epoch < self.config.epochs:
            self._train_epoch(self.progress.epoch)
            self.progress.epoch += 1
            self.progress.batch_in_epoch = 0
            if self.config.eval_steps is None:
                self._evaluate_and_checkpoint()
        last_history_step = self.progress.history[-1]["step"] if self.progress.history else -1
        if last_history_step != self.progress.step:
            self._evaluate_and_checkpoint()

        return TrainResult(
            best_metrics=dict(self.progress.best),
            history=list(self.progress.history),
            best_dir=self.best_dir,
            last_dir=self.last_dir,
            num_parameters=self.num_parameters(),
            wall_time_s=time.perf_counter() - start,
            train_examples_per_s=self.progress.examples / max(self.progress.train_seconds, 1e-9),
        )

    def _train_epoch(self, epoch: int) -> None:
        config = self.config
        num_batches = self.task.num_train_batches()
        bar = tqdm(
            total=num_batches,
            initial=self.progress.batch_in_epoch,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not sys.stderr.isatty(),
            leave=False,
        )
        # Without a terminal (Ray trial logs, CI) a log line every tenth of an epoch replaces the bar.
        log_every = max(1, num_batches // 10)
        self.model.train()
        for index, batch in enumerate(self.task.train_batches(epoch)):
            if index < self.progress.batch_in_epoch:
                continue  # already trained before a resume
            began = time.perf_counter()

            # forward + loss
            with autocast(self.device, self.dtype):
                loss = self.task.loss(batch, self.device)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss is {loss.item()} at step {self.progress.step + 1} "
                    f"(epoch {epoch + 1}, batch {index + 1}); the last good checkpoint is "
                    f"{self.last_dir}. Lower --lr or raise --temperature and retry."
                )

            # backward, with gradient accumulation
            self.scaler.scale(loss / config.grad_accum_steps).backward()
            window_done = (index + 1) % config.grad_accum_steps == 0 or index + 1 == num_batches
            if window_done:
                self._optimizer_step()

            self.progress.batch_in_epoch = index + 1
            self.progress.examples += self.task.batch_size(batch)
            self.progress.loss_sum += loss.item()
            self.progress.loss_count += 1
            self.progress.train_seconds += time.perf_counter() - began
            bar.set_postfix(loss=f"{loss.item():.4f}")
            bar.update(1)
            if bar.disable and (index + 1) % log_every == 0:
                logger.info(
                    "epoch %d: batch %d/%d, loss %.4f, %.1f examples/s",
                    epoch + 1,
                    index + 1,
                    num_batches,
                    loss.item(),
                    self.progress.examples / max(self.progress.train_seconds, 1e-9),
                )

            # evaluate every eval_steps optimizer steps
            if window_done and config.eval_steps and self.progress.step % config.eval_steps == 0:
                self._evaluate_and_checkpoint()
                self.model.train()
        bar.close()

    def _optimizer_step(self) -> None:
        if self.config.max_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.progress.step += 1

    def _evaluate_and_checkpoint(self) -> dict[str, float]:
        progress = self.progress
        self.model.eval()
        with torch.no_grad(), autocast(self.device, self.dtype):
            metrics = dict(self.task.evaluate(self.device))
        metrics["train_loss"] = progress.loss_sum / max(progress.loss_count, 1)
        metrics["epoch"] = progress.epoch + progress.batch_in_epoch / self.task.num_train_batches()
        metrics["step"] = progress.step
        metrics["lr"] = self.scheduler.get_last_lr()[0]
        metrics["train_examples_per_s"] = progress.examples / max(progress.train_seconds, 1e-9)
        progress.loss_sum, progress.loss_count = 0.0, 0
        progress.history.append(metrics)

        improved = self._is_improvement(metrics)
        if improved:
            progress.best = dict(metrics)
        self.save_checkpoint(self.last_dir)
        if improved:
            self._copy_model(self.last_dir / "model", self.best_dir)

        summary = " ".join(
            f"{key}={value:.4f}" for key, value in metrics.items() if key.startswith("val_")
        )
        logger.info(
            "epoch %.2f step %d: %s train_loss=%.4f%s",
            metrics["epoch"],
            progress.step,
            summary,
            metrics["train_loss"],
            " (best)" if improved else "",
        )
        if self.callback is not None:
            self.callback(metrics, self.last_dir)
        return metrics

    def _is_improvement(self, metrics: dict[str, float]) -> bool:
        metric, mode = self.task.metric, self.task.mode
        if metric not in metrics:
            raise KeyError(
                f"task reported {sorted(metrics)} but the selection metric is {metric!r}"
            )
        if not self.progress.best:
            return True
        best = self.progress.best[metric]
        return metrics[metric] > best if mode == "max" else metrics[metric] < best

    def _copy_model(self, source: Path, target: Path) -> None:
        staging = target.with_name(target.name + ".tmp")
        if staging.exists():
            shutil.rmtree(staging)
        shutil.copytree(source, staging)
        ckpt.replace_folder(staging, target)

    def save_checkpoint(self, path: Path) -> None:
        """Write model and trainer state to ``path`` atomically."""
        staging = path.with_name(path.name + ".tmp")
        if staging.exists():
            shutil.rmtree(staging)
        ckpt.save_model(self.model, self.task.tokenizer, self.config, staging / "model")
        ckpt.write_json(staging / "model" / ckpt.DATA_FILE, self.data_description)

        optimizer_tensors, param_groups = ckpt.optimizer_state(self.optimizer)
        rng_tensors, rng_values = rng_state()
        progress = self.progress
        values = {
            "step": progress.step,
            "epoch": progress.epoch,
            "batch_in_epoch": progress.batch_in_epoch,
            "examples": progress.examples,
            "train_seconds": progress.train_seconds,
            "loss_sum": progress.loss_sum,
            "loss_count": progress.loss_count,
            "best": progress.best,
            "history": progress.history,
            "param_groups": param_groups,
            "scheduler": self.scheduler.state_dict(),
            "grad_scaler": self.scaler.state_dict(),
            "rng": rng_values,
        }
        ckpt.save_trainer_state(
            staging / ckpt.STATE_DIR, {**optimizer_tensors, **rng_tensors}, values
        )
        ckpt.replace_folder(staging, path)

    def load_checkpoint(self, path: Path) -> None:
        """Restore model, optimiser, scheduler, step and RNG state from ``save_checkpoint``."""
        from safetensors.torch import load_file

        state_dir = path / ckpt.STATE_DIR
        if not state_dir.is_dir():
            raise FileNotFoundError(
                f"{state_dir} not found: {path} is not a trainer checkpoint "
                "(use the 'last' folder that training writes, not 'best')"
            )
        model_dir = path / "model"
        for name, child in ckpt.encoder_children(self.model).items():
            child.model.load_state_dict(load_file(str(model_dir / name / "model.safetensors")))
        self.model.load_state_dict(load_file(str(model_dir / ckpt.HEAD_FILE)), strict=False)

        tensors, values = ckpt.load_trainer_state(state_dir)
        ckpt.restore_optimizer(self.optimizer, tensors, values["param_groups"])
        self.scheduler.load_state_dict(values["scheduler"])
        self.scaler.load_state_dict(values["grad_scaler"])
        restore_rng_state(tensors, values["rng"])
        self.progress = _Progress(
            step=values["step"],
            epoch=values["epoch"],
            batch_in_epoch=values["batch_in_epoch"],
            examples=values["examples"],
            train_seconds=values["train_seconds"],
            loss_sum=values["loss_sum"],
            loss_count=values["loss_count"],
            best=values["best"],
            history=values["history"],
        )
        logger.info(
            "resumed from %s at step %d (epoch %d)", path, self.progress.step, self.progress.epoch
        )
