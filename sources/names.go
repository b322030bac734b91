package sources

// Names Berth generates for a workload's Docker objects. App and workload
// names are [a-z0-9-], so "_" (and "." for a green's suffix) cannot occur
// inside them: every name below maps back to exactly one workload id.
// ("berth-a-b-c" could have been a-b/c or a/b-c; "berth-a-b_c" cannot.)

// Slug is the injective form of a workload id: "<app>_<name>", and
// "<app>_<name>_<preview>" for a preview (three parts: never a
// production workload's, nor another preview's).
func Slug(w *Workload) string {
	if w.Preview != "" {
		return w.App + "_" + w.Name + "_" + w.Preview
	}
	return w.App + "_" + w.Name
}

// ContainerName is a workload's container name when only one copy runs.
func ContainerName(w *Workload) string { return "berth-" + Slug(w) }

// ServiceName is a workload's Swarm service under --engine swarm:
// "berth_<app>_<name>" ("_" never occurs in a container name Berth makes
// for a workload, so a row naming a service is told from one naming a
// container).
func ServiceName(w *Workload) string { return ServicePrefix + Slug(w) }

// ServicePrefix starts every service name Berth gives a workload.
const ServicePrefix = "berth_"

// BuiltRepo is the repository of the images Berth builds for a workload.
func BuiltRepo(w *Workload) string { return "berth/" + Slug(w) }

// VolumeName is the Docker volume of a workload's named volume.
func VolumeName(w *Workload, name string) string { return "berth-" + Slug(w) + "_" + name }

// LegacyVolumeName is what VolumeName was before names were injective
// ("berth-<app>-<name>-<volume>"): a volume made then keeps its data.
func LegacyVolumeName(w *Workload, name string) string {
	return "berth-" + w.App + "-" + w.Name + "-" + name
}

// BuiltTag is the tag of an image Berth builds for a workload: one per
// desired hash, so a rebuild happens exactly when the hash moves.
func BuiltTag(w *Workload) string {
	return BuiltRepo(w) + ":" + w.Hash[:12]
}
