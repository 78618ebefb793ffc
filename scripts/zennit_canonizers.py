"""The canonizer every Zennit golden script merges BatchNorms with; it needs only zennit's
SequentialMergeBatchNorm, so it imports under zennit 0.5.1 (golden_zennit*.py) and 0.4.6
(golden_crp*.py, which zennit-crp pins)."""

from zennit.canonizers import SequentialMergeBatchNorm


class ExactSequentialMergeBatchNorm(SequentialMergeBatchNorm):
    """zennit's SequentialMergeBatchNorm, minus its quirk: after merging, zennit
    sets the BN to mean 0 / var 1 / weight 1 / bias 0 but leaves eps (1e-5), so
    the 'identity' BN still multiplies by 1/sqrt(1+eps). Here eps is also set
    to 0 while merged (and restored on removal), so the canonized model is
    exactly the BN-folded model (= resnet_fashion_folded.onnx)."""

    def register(self, linears, batch_norm):
        super().register(linears, batch_norm)
        self.saved_eps = batch_norm.eps
        batch_norm.eps = 0.0

    def remove(self):
        super().remove()
        self.batch_norm.eps = self.saved_eps
