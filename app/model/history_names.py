"""The names of the History panel's entries (and Edit > Undo's), all in one place and one
style: "Verb object" in sentence case, with no layer names or trailing stop: "Paint stroke",
"Add layer", "Hide layer", "Generate: text to image".

Every edit the app makes takes its name from here (tests/test_history_names.py checks the
style of each, and that no command is named anywhere else). A plugin's own commands may
name themselves; following this style keeps the History panel reading as one list.
"""

from __future__ import annotations

# ---- the document as a whole (the History panel's first row, and a command's fallback)

CREATE_DOCUMENT = "Create document"
OPEN_DOCUMENT = "Open document"
EDIT_DOCUMENT = "Edit document"  # a command that names nothing better

# ---- pixels

PAINT_STROKE = "Paint stroke"
ERASE_STROKE = "Erase stroke"
FILL_AREA = "Fill area"
PAINT_PIXELS = "Paint pixels"  # pixels written by other means
CUT_SELECTION = "Cut selection"
PASTE_PICTURE = "Paste picture"

# ---- layers

ADD_LAYER = "Add layer"
ADD_MASK_LAYER = "Add mask layer"
DELETE_LAYER = "Delete layer"
DUPLICATE_LAYER = "Duplicate layer"
RESTACK_LAYER = "Move layer in stack"
RENAME_LAYER = "Rename layer"
SHOW_LAYER = "Show layer"
HIDE_LAYER = "Hide layer"
CHANGE_OPACITY = "Change layer opacity"
CHANGE_BLEND_MODE = "Change blend mode"
CHANGE_LAYER_PROPERTIES = "Change layer properties"  # several at once
ADD_LAYER_MASK = "Add layer mask"
REMOVE_LAYER_MASK = "Remove layer mask"
MERGE_DOWN = "Merge layer down"
FLATTEN_IMAGE = "Flatten image"
GROUP_LAYER = "Group layer"
UNGROUP_LAYERS = "Ungroup layers"
MOVE_LAYER = "Move layer"
MOVE_SELECTION = "Move selection"
TRANSFORM_LAYER = "Transform layer"
TRANSFORM_SELECTION = "Transform selection"

# ---- control and reference layers

ADD_CONTROL_LAYER = "Add control layer"
CONVERT_TO_CONTROL_LAYER = "Convert layer to control layer"
ADD_CONTROL_LAYERS_FROM_SETTINGS = "Add control layers from settings"  # Reuse settings
CHANGE_CONTROL_KIND = "Change control kind"
CHANGE_CONTROL_MODEL = "Change control model"
CHANGE_CONTROL_STRENGTH = "Change control strength"
CHANGE_CONTROL_STEPS = "Change control step range"
CHANGE_CONTROL_SETTINGS = "Change control settings"  # several at once
CONVERT_TO_REFERENCE = "Convert layer to reference"
CONVERT_TO_PICTURE = "Convert reference to layer"
CHANGE_REFERENCE_WEIGHT = "Change reference weight"
CHANGE_REFERENCE_MODEL = "Change reference adapter"

# ---- the canvas

RESIZE_CANVAS = "Resize canvas"
CROP_IMAGE = "Crop image"
ROTATE_IMAGE_CLOCKWISE = "Rotate image 90\N{DEGREE SIGN} clockwise"
ROTATE_IMAGE_HALF = "Rotate image 180\N{DEGREE SIGN}"
ROTATE_IMAGE_COUNTER_CLOCKWISE = "Rotate image 90\N{DEGREE SIGN} counter-clockwise"
FLIP_IMAGE_HORIZONTALLY = "Flip image horizontally"
FLIP_IMAGE_VERTICALLY = "Flip image vertically"

# ---- the selection

SELECT_AREA = "Select area"
SELECT_RECTANGLE = "Select rectangle"
SELECT_ELLIPSE = "Select ellipse"
SELECT_FREEHAND = "Select freehand area"
SELECT_ALL = "Select all"
DESELECT_ALL = "Deselect all"
INVERT_SELECTION = "Invert selection"
GROW_SELECTION = "Grow selection"
SHRINK_SELECTION = "Shrink selection"
FEATHER_SELECTION = "Feather selection"


# ---- the timeline

ADD_TRACK = "Add track"
DELETE_TRACK = "Delete track"
ADD_MEDIA = "Add media"
ADD_CLIP = "Add clip"
MOVE_CLIP = "Move clip"
TRIM_CLIP_START = "Trim clip start"
TRIM_CLIP_END = "Trim clip end"
SPLIT_CLIP = "Split clip"
DELETE_CLIP = "Delete clip"
RIPPLE_DELETE_CLIP = "Delete clip and close gap"
CHANGE_STILL_DURATION = "Change still duration"
CHANGE_CLIP_OPACITY = "Change clip opacity"
CHANGE_CLIP_FADES = "Change clip fades"
CHANGE_CLIP_GAIN = "Change clip gain"
CHANGE_VIDEO_FORMAT = "Change video format"  # the timeline's frame rate and size
OPEN_TIMELINE = "Open timeline"  # one read from a file (OpenTimelineIO) replaces it

# ---- the Audio panel's sounds

ADD_SOUND = "Add sound"
DELETE_SOUND = "Delete sound"
TRIM_SOUND = "Trim sound"
CHANGE_SOUND_FADES = "Change sound fades"
CHANGE_SOUND_GAIN = "Change sound gain"
NORMALISE_SOUND = "Normalise sound"  # its gain set to reach a loudness


def control_settings(changed: set[str]) -> str:
    """A change of one control layer's `changed` settings (kind, model, strength, start,
    end)."""
    if changed <= {"start", "end"}:
        return CHANGE_CONTROL_STEPS
    if len(changed) != 1:
        return CHANGE_CONTROL_SETTINGS
    (setting,) = changed
    return {
        "kind": CHANGE_CONTROL_KIND,
        "model": CHANGE_CONTROL_MODEL,
        "strength": CHANGE_CONTROL_STRENGTH,
    }[setting]


def resize_image(width: int, height: int) -> str:
    """E.g. "Resize image to 640 × 480"."""
    return f"Resize image to {width} \N{MULTIPLICATION SIGN} {height}"


def generate(task_title: str) -> str:
    """A generated picture applied as a layer, named by the task that made it: "Generate:
    text to image"."""
    return f"Generate: {task_title.strip().lower()}"


def layer_properties(changed: set[str], visible: bool | None = None) -> str:
    """A change of one layer's `changed` properties (name, visible, opacity, blend);
    `visible` is the new visibility, when it changes."""
    if len(changed) != 1:
        return CHANGE_LAYER_PROPERTIES
    (prop,) = changed
    if prop == "visible":
        return SHOW_LAYER if visible else HIDE_LAYER
    return {"name": RENAME_LAYER, "opacity": CHANGE_OPACITY, "blend": CHANGE_BLEND_MODE}[prop]
