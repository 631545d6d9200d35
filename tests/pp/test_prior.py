"""G2P on a small hand-computed example (both strands), coordinate parsing, annotation files."""

import pandas as pd
import pytest

from factvae.errors import FactVAEDataWarning, FactVAEInputError
from factvae.pp._genome import peak_coordinates, read_gene_annotation
from factvae.pp._prior import build_g2p

GENES = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [10_000, 50_000, 1_000],
                      "end": [20_000, 60_000, 3_000], "strand": ["+", "-", "+"]},
                     index=["A", "B", "C"])
PEAKS = pd.DataFrame({"chrom": ["chr1", "chr1", "chr1", "chr1", "chr1", "chr2", "chr3", "chr1"],
                      "start": [7_500, 7_000, 19_900, 60_500, 48_000, 2_900, 100, 62_000],
                      "end": [8_100, 7_999, 20_100, 61_000, 49_000, 3_500, 200, 62_500]},
                     index=[f"p{i}" for i in range(8)])


def test_g2p_hand_computed_both_strands():
    # A (+): body 10k-20k, promoter 8k-10k -> p0 (promoter edge), p2 (body end)
    # B (-): body 50k-60k, promoter 60k-62k downstream in coordinates -> p3; p4 lies on the
    #        '+'-side of B and must NOT link; p7 starts exactly at 62k (half-open) -> no link
    # C (+): promoter clipped at 0 -> p5; D has no coordinates -> empty row
    g2p, summary = build_g2p(GENES, PEAKS, ["A", "B", "C", "D"], promoter=2000, warn=False)
    pairs = {(r, c) for r, c in zip(*g2p.nonzero())}
    assert pairs == {(0, 0), (0, 2), (1, 3), (2, 5)}
    assert g2p.format == "csr" and g2p.shape == (4, 8)
    assert summary.n_pairs == 4 and summary.n_genes_linked == 3 and summary.n_peaks_linked == 4
    assert summary.n_genes_without_coordinates == 1


def test_promoter_length_is_a_parameter():
    g2p, _ = build_g2p(GENES, PEAKS, ["A", "B", "C"], promoter=0, warn=False)
    assert {(r, c) for r, c in zip(*g2p.nonzero())} == {(0, 2), (2, 5)}
    g2p, _ = build_g2p(GENES, PEAKS, ["A", "B", "C"], promoter=3_000, warn=False)
    assert (0, 1) in {(r, c) for r, c in zip(*g2p.nonzero())}  # p1 now within A's promoter
    assert (1, 7) in {(r, c) for r, c in zip(*g2p.nonzero())}  # p7 now within B's promoter


def test_weak_prior_warns():
    with pytest.warns(FactVAEDataWarning, match="prior is weak"):
        build_g2p(GENES, PEAKS, ["A", "B", "C"])


@pytest.mark.parametrize("name", ["chr1:100-200", "chr1-100-200", "chr1_100_200",
                                  "chrUn_KI270742v1:100-200"])
def test_peak_name_formats(name):
    coords = peak_coordinates(pd.DataFrame(index=[name]))
    assert coords["start"].iat[0] == 100 and coords["end"].iat[0] == 200
    assert coords["chrom"].iat[0].startswith("chr")


def test_peak_columns_win_over_names():
    var = pd.DataFrame({"chrom": ["chr9"], "chromStart": [5], "chromEnd": [9]}, index=["peakA"])
    assert peak_coordinates(var).iloc[0].tolist() == ["chr9", 5, 9]
    var = pd.DataFrame({"chrom": ["chr9"], "start": [5], "end": [9]}, index=["peakA"])
    assert peak_coordinates(var).iloc[0].tolist() == ["chr9", 5, 9]


def test_bad_peak_names_error_names_examples():
    with pytest.raises(FactVAEInputError, match="'peak_1'"):
        peak_coordinates(pd.DataFrame(index=["chr1:1-2", "peak_1"]), file="atac.h5ad")


GTF = ('chr1\tsrc\tgene\t10001\t20000\t.\t+\t.\tgene_id "ENSG1"; gene_name "A";\n'
       'chr1\tsrc\texon\t10001\t11000\t.\t+\t.\tgene_id "ENSG1"; gene_name "A";\n'
       'chr1\tsrc\tgene\t50001\t60000\t.\t-\t.\tgene_id "ENSG2"; gene_name "B";\n')
GFF = ("##gff-version 3\n"
       "chr1\tsrc\tgene\t10001\t20000\t.\t+\t.\tID=gene:ENSG1;Name=A\n"
       "chr1\tsrc\tmRNA\t10001\t20000\t.\t+\t.\tID=tx1;Parent=gene:ENSG1\n"
       "chr1\tsrc\tgene\t50001\t60000\t.\t-\t.\tID=gene:ENSG2;Name=B\n")
BED = "chr1\t10001\t20000\tA\t.\t+\nchr1\t50001\t60000\tB\t.\t-\nchr1\t1\t5\tA\t.\t+\n"


@pytest.mark.parametrize("suffix,text", [(".gtf", GTF), (".gff3", GFF), (".bed", BED)])
def test_annotation_formats_agree(tmp_path, suffix, text):
    path = tmp_path / f"genes{suffix}"
    path.write_text(text)
    genes = read_gene_annotation(path)
    assert list(genes.index) == ["A", "B"]  # exons/mRNAs skipped, duplicate names: first kept
    assert genes.loc["A"].tolist() == ["chr1", 10001, 20000, "+"]
    assert genes.loc["B", "strand"] == "-"


def test_gzipped_annotation(tmp_path):
    import gzip

    path = tmp_path / "genes.gtf.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(GTF)
    assert list(read_gene_annotation(path).index) == ["A", "B"]


def test_annotation_errors(tmp_path):
    with pytest.raises(FactVAEInputError, match="file not found"):
        read_gene_annotation(tmp_path / "none.gtf")
    (tmp_path / "genes.txt").write_text(BED)
    with pytest.raises(FactVAEInputError, match="unknown annotation format"):
        read_gene_annotation(tmp_path / "genes.txt")
    (tmp_path / "empty.gtf").write_text("# nothing\n")
    with pytest.raises(FactVAEInputError, match="no gene records"):
        read_gene_annotation(tmp_path / "empty.gtf")


def test_prior_stored_by_name_survives_reordering(tiny):
    from factvae.pp._prior import add_gene_peak_prior, g2p_matrix

    summary = add_gene_peak_prior(tiny)
    full = g2p_matrix(tiny)
    assert full.nnz == summary.n_pairs > 0
    genes = tiny.mod["rna"].var_names[::-1]
    peaks = tiny.mod["atac"].var_names[::-1]
    flipped = g2p_matrix(tiny, genes, peaks)
    assert (flipped != full[::-1][:, ::-1]).nnz == 0


def test_shared_gencode_bed_links_snare_genes(shared_data):
    genes = read_gene_annotation(shared_data / "annotations/genes_gencode_hg38.bed")
    assert len(genes) > 50_000 and genes.loc["POU5F1", "chrom"] == "chr6"
