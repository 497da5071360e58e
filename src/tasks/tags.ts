/**
 * The tags the workflow's jobs carry, from their input: `report:<id>` and `dataset:<id>`, so every
 * job of one report (or dataset) is found by one tag, in the job list, the CLI and a bulk action.
 */
export function scopeTags(input: { reportId?: string; datasetId?: string }): string[] {
  return [...(input.reportId ? [`report:${input.reportId}`] : []), ...(input.datasetId ? [`dataset:${input.datasetId}`] : [])];
}
