"""The image: base catalog, the plan and its choosers, the GPU plan, rendering (templates live
here), compose, the report, the README section and the files envforge owns."""
