"""LoRA training: personalise a checkpoint from a folder of photos (a task, its panel and
the `.safetensors` exporter of trained models)."""

from plugins.api import Exporter, Panel, Plugin, Task
from plugins.lora_training.params import TrainLoraParams, validate_train_lora

TRAIN_LORA = Task(
    id="lora_training.train",
    version=1,
    title="Train a LoRA",
    params_type=TrainLoraParams,
    runner="plugins.lora_training.trainer:run",
    validate=validate_train_lora,
    tip="Teach a model a new subject or style from a folder of photos.",
    inputs=("folder",),
    output="model",
    cli="train-lora",
    order=200,
)
LORA_EXPORTER = Exporter(
    id="lora_training.safetensors",
    title="LoRA (safetensors)",
    output="model",
    suffixes=(".safetensors",),
    write="plugins.lora_training.model_export:write_model",
)
TRAIN_PANEL = Panel("lora_training.train", "Train LoRA", "plugins.lora_training.panel:make_panel")

plugin = Plugin(
    id="lora_training",
    version="0.1.0",
    title="LoRA training",
    tasks=(TRAIN_LORA,),
    panels=(TRAIN_PANEL,),
    exporters=(LORA_EXPORTER,),
)
